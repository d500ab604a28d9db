"""`ltc spotcheck …`: draw a month's spot-check sample (as the scheduler does on the 1st) and
replay a stored draw from its seed and candidates. `monthly_draw_group` makes the same two
commands for return-visit sampling (ltc.returnvisits.cli), drawn the same way.

Exit codes: 0 done (or already drawn); 1 a replay that does not match; 2 refused input, with
the reason on stderr (a stable error code first).
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

import click

from ltc import commands
from ltc.assessments.ruleset_cli import refuse
from ltc.errors import DomainError
from ltc.identity import Actor, ActorKind, Role

REGION_HELP = "A pooling region's code (default: every one)"


def monthly_draw_group(name: str, doc: str, unit: str, service_module: str) -> click.Group:
    """`ltc <name> draw|replay` for a monthly sample per pooling region. `service_module`
    (imported when a command runs, not when `ltc` starts) has `draw_month` and
    `replay_month`, both called as (actor, region code, month's first day); `unit` counts
    what was drawn in Chinese (份抽查)."""

    def each_region(what: str, month: str, region: str | None) -> list[tuple[str, Any]]:
        """The service's `<what>_month` for the region, or for every pooling region; a
        refusal exits 2 with its code and message."""
        from ltc.regions import interface as regions
        from ltc.spotchecks.service import parse_month

        call = getattr(importlib.import_module(service_module), f"{what}_month")
        # An operator at the server; the audit log names the command.
        actor = Actor(kind=ActorKind.system, id=None, name=f"命令行 ltc {name} {what}",
                      role=Role.admin)

        async def run() -> list[tuple[str, Any]]:
            first = parse_month(month, "--month")
            codes = [region] if region else [p.code for p in await regions.at_level("pooling")]
            return [(code, await call(actor, code, first)) for code in codes]

        try:
            return commands.run(commands.settings(), run)
        except DomainError as exc:
            refuse(exc)
            raise  # refuse() exits; this line is never reached

    group = click.Group(name, help=doc)

    @group.command("draw")
    @click.option("--month", required=True, metavar="YYYY-MM", help="An ended month")
    @click.option("--region", default=None, help=REGION_HELP)
    def draw_command(month: str, region: str | None) -> None:
        """Draw the month's sample (safe to run twice: the first draw stands)."""
        for code, row in each_region("draw", month, region):
            chosen = json.loads(row["record"])["chosen"]
            click.echo(f"{code} {month}: {len(chosen)} {unit} / drawn (seed {row['seed']})")

    @group.command("replay")
    @click.option("--month", required=True, metavar="YYYY-MM")
    @click.option("--region", default=None, help=REGION_HELP)
    def replay_command(month: str, region: str | None) -> None:
        """Re-run the stored draw and compare it with what was drawn."""
        results = each_region("replay", month, region)
        for code, result in results:
            verdict = "一致 / matches" if result.matches else "不一致 / DOES NOT MATCH"
            click.echo(f"{code} {month}: {verdict} — stored {result.stored}, "
                       f"replayed {result.replayed}")
        if not all(result.matches for _, result in results):
            sys.exit(1)

    return group


spotcheck = monthly_draw_group("spotcheck", "Spot checks of concluded assessments (评估抽查).",
                               "份抽查", "ltc.spotchecks.service")

COMMANDS = [spotcheck]
