"""`ltc evidence …`: support commands for the stored videos and photos."""

from __future__ import annotations

import sys

import click

from ltc import commands


@click.group()
def evidence() -> None:
    """Assessment videos and photos (评估影像)."""


@evidence.command("verify")
def verify() -> None:
    """Re-hash every stored file and compare it with its records (exit 1 on any mismatch)."""
    from ltc.evidence import service

    settings = commands.settings()
    checked, problems = commands.run(settings, lambda: service.verify_report(settings.media_dir))
    for problem in problems:
        click.echo(str(problem))
    if problems:
        click.echo(f"{len(problems)} of {checked} stored files do not match their records")
        sys.exit(1)
    click.echo(f"{checked} files verified")


COMMANDS = [evidence]


if __name__ == "__main__":
    evidence()
