"""`ltc ruleset …`: the grading ruleset versions in the database, activating a new version
from a date, and the dry run of what a version would change for people already graded.

Exit codes: 0 done (or already so); 2 refused input, with the reason on stderr (a stable
error code first); 1 anything else (configuration).
"""

from __future__ import annotations

import sys

import click

from ltc import commands
from ltc.errors import DomainError
from ltc.identity import Actor, ActorKind

REFUSED = 2


def cli_actor(what: str) -> Actor:
    # An operator at the server (like `ltc enrollment import`); the audit log names the command.
    return Actor(kind=ActorKind.system, id=None, name=f"命令行 ltc ruleset {what}", role=None)


def refuse(exc: DomainError) -> None:
    click.echo(f"{exc.code}: {exc.message}", err=True)
    for field, problem in exc.fields.items():
        click.echo(f"  {field}: {problem}", err=True)
    sys.exit(REFUSED)


@click.group()
def ruleset() -> None:
    """Grading ruleset versions (评估规则版本)."""


@ruleset.command("list")
def list_command() -> None:
    """Every stored version with its status (in force, superseded and why, pending)."""
    from ltc.assessments.rulesets import list_rulesets

    rows = commands.run(commands.settings(), list_rulesets)
    for row in rows:
        status = row["status"]
        click.echo(f"{row['key']:<20} {row['effective_from'].isoformat()}  {status.label}")
        if status.reason:
            click.echo(f"  取代原因：{status.reason}")


@ruleset.command("activate")
@click.argument("code")
@click.argument("version", type=int)
@click.option("--from", "effective_from", required=True, metavar="YYYY-MM-DD",
              help="The first day new conclusions are graded by this version (today or later)")
@click.option("--note", default="", help="Why, for the audit log (e.g. the bureau's notice)")
def activate_command(code: str, version: int, effective_from: str, note: str) -> None:
    """Put ruleset CODE version VERSION in force from a date (safe to send twice)."""
    from ltc.assessments.rulesets import activate

    settings = commands.settings()
    try:
        row = commands.run(settings, lambda: activate(
            cli_actor("activate"), code, version, effective_from, note))
    except DomainError as exc:
        refuse(exc)
    click.echo(f"{code}@{version}: 自 {row['effective_from'].isoformat()} 起施行 / in force from "
               f"{row['effective_from'].isoformat()}")


COMMANDS = [ruleset]
