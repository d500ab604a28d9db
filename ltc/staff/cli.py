"""`ltc staff add|import|list`: the staff register (实名制) from the command line.

Exit codes: 0 done; 2 bad input (every problem listed: a form's fields, or the file's bad
rows with their line numbers), nothing written; 1 anything else.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ltc import commands
from ltc.identity import Actor, ActorKind

EXIT_BAD_INPUT = 2
CLI_ACTOR = Actor(kind=ActorKind.system, id=None, name="命令行 ltc staff", role=None)


@click.group()
def staff() -> None:
    """Nurses, care workers, assessors and experts (服务人员实名登记)."""


@staff.command("add")
@click.option("--resident-id", required=True)
@click.option("--name", required=True)
@click.option("--kind", required=True,
              type=click.Choice(["nurse", "care_worker", "assessor", "expert"]))
@click.option("--certificate", "certificate_no", required=True)
@click.option("--until", "certificate_until", required=True,
              help="The certificate's last valid day, YYYY-MM-DD")
@click.option("--code", "staff_code", required=True, help="医保人员编码 (14 characters)")
@click.option("--organisation", required=True, help="The employer's organisation code")
@click.option("--username", default="", help="The account to link (optional)")
@click.option("--status", default="active", type=click.Choice(["active", "suspended", "left"]))
def add(**values: str) -> None:
    """Register one member of staff."""
    from ltc.errors import DomainError
    from ltc.staff import service

    settings = commands.settings()
    try:
        row = commands.run(settings, lambda: service.create_staff(CLI_ACTOR, values))
    except DomainError as exc:
        click.echo(f"{exc.code}: {exc.message}", err=True)
        for field, problem in exc.fields.items():
            click.echo(f"  {field}: {problem}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    click.echo(f"staff {row['id']} registered: {row['name']}")


@staff.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check every row; write nothing")
def import_command(file: Path, dry_run: bool) -> None:
    """Register staff from a UTF-8 CSV, all or nothing. Columns: resident_id, name, kind,
    certificate_no, certificate_until, staff_code, organisation; optional status, username."""
    from ltc.staff import service

    settings = commands.settings()
    if not file.is_file():
        raise click.ClickException(f"文件不存在或无法读取 / no such file: {file}")
    try:
        report = commands.run(settings, lambda: service.import_staff(
            CLI_ACTOR, file.read_bytes(), filename=file.name, dry_run=dry_run))
    except service.BadRows as exc:
        click.echo(exc.message, err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    mode = ("检查通过（试运行，未写入）/ dry run, nothing written" if dry_run
            else "已导入 / imported")
    click.echo(f"{report.filename}: {mode}; rows {report.rows}; sha256 {report.sha256}")


@staff.command("list")
@click.option("--expiring", is_flag=True, help="Only 在职 staff whose certificate ends "
              "within 30 days")
@click.option("--expired", is_flag=True, help="Only certificates already expired")
@click.option("--organisation", default="", help="Only this employer (organisation code)")
def list_command(expiring: bool, expired: bool, organisation: str) -> None:
    """Print the register (resident IDs masked), tab-separated."""
    from ltc import clock
    from ltc.people.rules import mask_resident_id
    from ltc.staff import service
    from ltc.staff.rules import expiry_state

    settings = commands.settings()
    expiry = "expiring" if expiring else "expired" if expired else ""

    async def everyone() -> list[dict]:
        rows: list[dict] = []
        while batch := await service.list_staff(
                CLI_ACTOR, status="active" if expiring else "", organisation=organisation,
                expiry=expiry, after=rows[-1]["id"] if rows else 0, limit=500):
            rows += batch
        return rows

    for r in commands.run(settings, everyone):
        click.echo("\t".join((str(r["id"]), r["name"], mask_resident_id(r["resident_id"] or ""),
                              r["kind"], r["certificate_no"], r["certificate_until"].isoformat(),
                              expiry_state(r["certificate_until"], clock.today()) or "-",
                              r["staff_code"] or "-", r["organisation.code"], r["status"])))


COMMANDS = [staff]
