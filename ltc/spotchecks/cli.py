"""`ltc spotcheck …`: draw a month's spot-check sample (as the scheduler does on the 1st) and
replay a stored draw from its seed and candidates.

Exit codes: 0 done (or already drawn); 1 a replay that does not match; 2 refused input, with
the reason on stderr (a stable error code first).
"""

from __future__ import annotations

import json
import sys

import click

from ltc import commands
from ltc.assessments.ruleset_cli import refuse
from ltc.errors import DomainError
from ltc.identity import Actor, ActorKind, Role


def _actor(what: str) -> Actor:
    # An operator at the server, acting for the bureau; the audit log names the command.
    return Actor(kind=ActorKind.system, id=None, name=f"命令行 ltc spotcheck {what}",
                 role=Role.admin)


async def _pooling_codes(region: str | None) -> list[str]:
    from ltc.regions import interface as regions

    return [region] if region else [p.code for p in await regions.at_level("pooling")]


@click.group()
def spotcheck() -> None:
    """Spot checks of concluded assessments (评估抽查)."""


@spotcheck.command("draw")
@click.option("--month", required=True, metavar="YYYY-MM", help="An ended month")
@click.option("--region", default=None, help="A pooling region's code (default: every one)")
def draw_command(month: str, region: str | None) -> None:
    """Draw the month's sample (safe to run twice: the first draw stands)."""
    from ltc.spotchecks import service

    async def run() -> list[tuple[str, dict]]:
        first = service.parse_month(month, "--month")
        return [(code, await service.draw_month(_actor("draw"), code, first))
                for code in await _pooling_codes(region)]

    try:
        done = commands.run(commands.settings(), run)
    except DomainError as exc:
        refuse(exc)
    for code, row in done:
        chosen = json.loads(row["record"])["chosen"]
        click.echo(f"{code} {month}: {len(chosen)} 份抽查 / drawn (seed {row['seed']})")


@spotcheck.command("replay")
@click.option("--month", required=True, metavar="YYYY-MM")
@click.option("--region", default=None, help="A pooling region's code (default: every one)")
def replay_command(month: str, region: str | None) -> None:
    """Re-run the stored draw and compare it with what was drawn."""
    from ltc.spotchecks import service

    async def run() -> list[tuple[str, service.Replay]]:
        first = service.parse_month(month, "--month")
        return [(code, await service.replay_month(_actor("replay"), code, first))
                for code in await _pooling_codes(region)]

    try:
        results = commands.run(commands.settings(), run)
    except DomainError as exc:
        refuse(exc)
    for code, result in results:
        verdict = "一致 / matches" if result.matches else "不一致 / DOES NOT MATCH"
        click.echo(f"{code} {month}: {verdict} — stored {result.stored}, "
                   f"replayed {result.replayed}")
    if not all(result.matches for _, result in results):
        sys.exit(1)


COMMANDS = [spotcheck]
