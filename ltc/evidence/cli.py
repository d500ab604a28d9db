"""`ltc evidence …`: support commands for the stored videos and photos. `verify` also checks
generated documents, so it is on the desk (ltc.desk.cli) and added here by ltc.cli."""

from __future__ import annotations

import click

from ltc import commands


@click.group()
def evidence() -> None:
    """Assessment videos and photos (评估影像)."""


@evidence.command("durations")
def durations() -> None:
    """Read the duration of the videos stored without one (once, after upgrading to durations
    read from the file; without it their assessments cannot show video coverage)."""
    from ltc.evidence import service

    settings = commands.settings()
    looked, found = commands.run(
        settings, lambda: service.fill_missing_durations(settings.media_dir))
    click.echo(f"{found} of {looked} videos without a duration now have one")


COMMANDS = [evidence]


if __name__ == "__main__":
    evidence()
