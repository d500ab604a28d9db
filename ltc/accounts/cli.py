"""`ltc createuser`, `ltc token`: people who sign in and integration clients."""

from __future__ import annotations

import getpass
import sys

import click

from ltc import commands
from ltc.errors import DomainError


def _refused(exc: DomainError) -> click.ClickException:
    """The service's message and every field's problem, for the terminal."""
    details = "".join(f"\n  {field}: {problem}" for field, problem in exc.fields.items())
    return click.ClickException(f"{exc.message}{details}")


@click.command()
@click.option("--username", required=True)
@click.option("--name", "display_name", required=True, help="Display name, e.g. 王经办")
@click.option("--role", required=True,
              type=click.Choice(["clerk", "assessor", "provider", "reviewer", "admin"]))
@click.option("--region", required=True, help="Region code, e.g. 370983")
@click.option("--organisation", default=None, help="Organisation code (assessor, provider)")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input")
def createuser(username: str, display_name: str, role: str, region: str,
               organisation: str | None, password_stdin: bool) -> None:
    """Create a user who signs in."""
    from ltc.accounts import service
    from ltc.identity import SYSTEM

    settings = commands.settings()
    password = sys.stdin.readline().rstrip("\n") if password_stdin else getpass.getpass("密码: ")
    try:
        commands.run(settings, lambda: service.create_user(
            SYSTEM, username=username, display_name=display_name, role=role, region_code=region,
            organisation_code=organisation, password=password,
            password_iterations=settings.password_iterations))
    except DomainError as exc:
        raise _refused(exc) from exc
    click.echo(f"user {username} created")


@click.command()
@click.option("--name", required=True, help="The calling system, e.g. 医保参保系统")
@click.option("--role", required=True,
              type=click.Choice(["clerk", "assessor", "provider", "reviewer", "admin"]))
@click.option("--region", required=True)
@click.option("--organisation", default=None)
@click.option("--scope", "scopes", multiple=True,
              type=click.Choice(["role.api", "enrolment.events", "partner.read"]),
              help="What it may call, repeatable (default: role.api and enrolment.events)")
def token(name: str, role: str, region: str, organisation: str | None,
          scopes: tuple[str, ...]) -> None:
    """Issue an API token for an integration client; printed once."""
    from ltc.accounts import service
    from ltc.identity import LEGACY_SCOPES, SYSTEM

    settings = commands.settings()
    try:
        issued, row = commands.run(settings, lambda: service.issue_token(
            SYSTEM, name=name, role=role, region_code=region, organisation_code=organisation,
            scopes=scopes or LEGACY_SCOPES))
    except DomainError as exc:
        raise _refused(exc) from exc
    click.echo(issued)
    # The key for signed requests (enrolment events); like the token, shown only now.
    click.echo(f"signing secret: {row['signing_secret']}", err=True)


COMMANDS = [createuser, token]
