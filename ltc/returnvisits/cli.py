"""`ltc returnvisit …`: draw a month's return-visit sample (as the scheduler does on the 1st)
and replay a stored draw from its seed and candidates.

Exit codes: 0 done (or already drawn); 1 a replay that does not match; 2 refused input, with
the reason on stderr (a stable error code first).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ltc import commands
from ltc.assessments.ruleset_cli import refuse
from ltc.errors import DomainError
from ltc.identity import Actor, ActorKind, Role


def _actor(what: str) -> Actor:
    # An operator at the server, acting for the agency; the audit log names the command.
    return Actor(kind=ActorKind.system, id=None, name=f"命令行 ltc returnvisit {what}",
                 role=Role.admin)


def _each_region(what: str, month: str, region: str | None, call: Any) -> list[tuple[str, Any]]:
    """`call(actor, region code, month's first day)` for the region, or for every pooling
    region; a refusal exits 2 with its code and message."""
    from ltc.regions import interface as regions
    from ltc.spotchecks.service import parse_month

    async def run() -> list[tuple[str, Any]]:
        first = parse_month(month, "--month")
        codes = [region] if region else [p.code for p in await regions.at_level("pooling")]
        return [(code, await call(_actor(what), code, first)) for code in codes]

    try:
        return commands.run(commands.settings(), run)
    except DomainError as exc:
        refuse(exc)
        raise  # refuse() exits; this line is never reached


@click.group()
def returnvisit() -> None:
    """Return-visit sampling of accepted home visits (回访抽样)."""


REGION_HELP = "A pooling region's code (default: every one)"


@returnvisit.command("draw")
@click.option("--month", required=True, metavar="YYYY-MM", help="An ended month")
@click.option("--region", default=None, help=REGION_HELP)
def draw_command(month: str, region: str | None) -> None:
    """Draw the month's sample (safe to run twice: the first draw stands)."""
    from ltc.returnvisits.service import draw_month

    for code, row in _each_region("draw", month, region, draw_month):
        chosen = json.loads(row["record"])["chosen"]
        click.echo(f"{code} {month}: {len(chosen)} 次回访 / drawn (seed {row['seed']})")


@returnvisit.command("replay")
@click.option("--month", required=True, metavar="YYYY-MM")
@click.option("--region", default=None, help=REGION_HELP)
def replay_command(month: str, region: str | None) -> None:
    """Re-run the stored draw and compare it with what was drawn."""
    from ltc.returnvisits.service import replay_month

    results = _each_region("replay", month, region, replay_month)
    for code, result in results:
        verdict = "一致 / matches" if result.matches else "不一致 / DOES NOT MATCH"
        click.echo(f"{code} {month}: {verdict} — stored {result.stored}, "
                   f"replayed {result.replayed}")
    if not all(result.matches for _, result in results):
        sys.exit(1)


COMMANDS = [returnvisit]
