"""Commands that read several contexts, so they live on the desk; ltc.cli adds them to their
groups. `ltc evidence verify`: every stored video, photo and generated document re-hashed.

`ltc ruleset impact`: the dry run of a ruleset change from the command line.

Prints the counts by kind and by town and the money at stake; `--csv FILE` writes the full
list for Excel (UTF-8 with BOM), streamed as it is computed, so a whole city's list never sits
in memory. Changes nothing. Exit 2 with a stable error code on stderr
for a bad region or ruleset.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import click

from ltc import commands
from ltc.errors import DomainError
from ltc.identity import Actor, ActorKind
from ltc.money import yuan

REFUSED = 2
CLI_ACTOR = Actor(kind=ActorKind.system, id=None, name="命令行 ltc ruleset impact", role=None)


@click.command("impact")
@click.option("--region", required=True, help="Region code, e.g. 370983")
@click.option("--to", "target", required=True, metavar="CODE@VERSION",
              help="The ruleset version to re-grade by, e.g. national-2021@2")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write every person who would change to this CSV file (Excel, UTF-8 BOM)")
def impact(region: str, target: str, csv_path: Path | None) -> None:
    """Dry run: who would change grade or eligibility under another ruleset version."""
    from ltc.desk import regrading

    settings = commands.settings()
    handle = csv_path.open("w", encoding="utf-8-sig", newline="") if csv_path else None
    writer = csv.writer(handle) if handle else None
    if writer:
        writer.writerow(regrading.CSV_HEADER)
    try:
        # Streamed: each changed person goes to the CSV as their page is read; nothing kept.
        result = commands.run(settings, lambda: regrading.compute_impact(
            CLI_ACTOR, region, target, keep_rows=False,
            on_row=(lambda row: writer.writerow(regrading.csv_row(row))) if writer else None))
    except DomainError as exc:
        click.echo(f"{exc.code}: {exc.message}", err=True)
        for field, problem in exc.fields.items():
            click.echo(f"  {field}: {problem}", err=True)
        sys.exit(REFUSED)
    finally:
        if handle:
            handle.close()
    click.echo(f"改判影响（试算，未改变任何数据）/ dry run: region {result.region_code}, "
               f"re-graded by {result.target} ({result.target_status})")
    click.echo(f"  concluded assessments read {result.read}  people {result.people}  "
               f"already by {result.target} {result.already}  unchanged {result.unchanged}  "
               f"would change {result.changed}  unreadable {result.unreadable}")
    for kind, count in result.by_kind.items():
        click.echo(f"  {kind.label} ({kind.value}): {count}")
    for town, counts, total in result.by_town:
        detail = "  ".join(f"{k.value} {n}" for k, n in counts.items())
        click.echo(f"  {town}: {total}  ({detail})")
    click.echo(f"  每月待遇差额合计 / monthly at stake: {yuan(result.monthly_at_stake_fen)}")
    click.echo(f"  {result.seconds:.1f} s")
    if csv_path:
        click.echo(f"  CSV: {csv_path} (newest conclusion first)")


COMMANDS: list[click.Command] = []  # added to `ltc ruleset` by ltc.cli


@click.command("verify")
def verify() -> None:
    """Re-hash every stored video and photo and every generated document (notices, decision
    letters, agreements, payout files, the letters answering applications) and compare them
    with their records; exit 1 listing each mismatch."""
    from ltc import documents
    from ltc.agreements import interface as agreements
    from ltc.applications import interface as applications
    from ltc.entitlements import interface as entitlements
    from ltc.evidence import service as evidence
    from ltc.notices import interface as notices
    from ltc.payouts import interface as payouts

    settings = commands.settings()
    sources = [*notices.DOCUMENTS, *entitlements.DOCUMENTS, *agreements.DOCUMENTS,
               *payouts.DOCUMENTS, *applications.DOCUMENTS]

    async def both() -> tuple[int, list[object]]:
        files, problems = await evidence.verify_report(settings.media_dir)
        docs, doc_problems = await documents.verify_sources(sources, settings.media_dir)
        return files + docs, [*problems, *doc_problems]

    checked, problems = commands.run(settings, both)
    for problem in problems:
        click.echo(str(problem))
    if problems:
        click.echo(f"{len(problems)} of {checked} stored files do not match their records")
        sys.exit(1)
    click.echo(f"{checked} files verified")
