"""`ltc org …` and `ltc region …`: the organisation register and the region tree from the
command line (the same service functions as the admin pages, audited as the command line).

Exit codes: 0 done (or validated, with --dry-run); 2 bad input (every problem listed, nothing
written); 1 anything else (configuration, unreadable file)."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

import click

from ltc import commands
from ltc.identity import Actor, ActorKind

EXIT_BAD_INPUT = 2


def _actor(command: str) -> Actor:
    return Actor(kind=ActorKind.system, id=None, name=f"命令行 ltc {command}", role=None)


def _run(factory: Any) -> Any:
    """Run a service call; a domain error is listed on stderr and exits 2."""
    from ltc.csvimport import BadRows
    from ltc.errors import DomainError

    settings = commands.settings()
    try:
        return commands.run(settings, factory)
    except BadRows as exc:
        click.echo(exc.message, err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
    except DomainError as exc:
        click.echo(f"{exc.code}: {exc.message}", err=True)
        for field, problem in exc.fields.items():
            click.echo(f"  {field}: {problem}", err=True)
    sys.exit(EXIT_BAD_INPUT)


def _existing_file(file: Path) -> None:
    if not file.is_file():
        # Not click's exists=True: its usage error exits 2, which here means "bad rows".
        raise click.ClickException(f"文件不存在或无法读取 / no such file: {file}")


def _report(report: Any, what: str) -> None:
    mode = ("检查通过（试运行，未写入）/ dry run, nothing written" if report.dry_run
            else "已导入 / imported")
    click.echo(f"{report.filename}: {mode}")
    click.echo(f"  rows {report.rows}  new {report.new}  updated {report.updated} ({what})")


@click.group()
def org() -> None:
    """The organisation register (定点机构)."""


@org.command("add")
@click.option("--region", required=True, help="Region code, e.g. 370983")
@click.option("--code", required=True, help="LTC's own code, e.g. ORG-P-002")
@click.option("--national-code", required=True, help="医保信息业务编码, e.g. H37098300002")
@click.option("--name", required=True)
@click.option("--category", required=True,
              type=click.Choice(["assessment", "health_centre", "home_care", "institution"]))
@click.option("--licence", "licence_no", required=True)
@click.option("--legal-representative", required=True)
@click.option("--address", required=True)
@click.option("--contact", "contact_name", required=True)
@click.option("--phone", "contact_phone", required=True)
@click.option("--towns", "service_towns", default="", help="Town codes, comma-separated")
@click.option("--bank", "bank_name", default="")
@click.option("--account-name", "bank_account_name", default="")
@click.option("--account-no", "bank_account_no", default="")
def add(region: str, **fields: str) -> None:
    """Register an organisation (status 正常)."""
    from ltc.organisations import service
    from ltc.organisations.rules import Entry

    row = _run(lambda: service.register(_actor("org add"), Entry.from_mapping(fields), region))
    click.echo(f"organisation {row['code']} registered (id {row['id']})")


@org.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--region", required=True, help="The region the organisations belong to")
@click.option("--dry-run", is_flag=True, help="Validate and count; write nothing")
def import_command(file: Path, region: str, dry_run: bool) -> None:
    """Import a region's organisations from a UTF-8 CSV (with or without BOM), upserting by
    code. Columns: code, national_code, name, category, licence_no, legal_representative,
    address, contact_name, contact_phone, service_towns (codes separated by ;), and
    optionally bank_name, bank_account_name, bank_account_no."""
    from ltc.organisations import service

    _existing_file(file)
    _report(_run(lambda: service.import_file(_actor("org import"), file, region_code=region,
                                             dry_run=dry_run)), "organisations")


@org.command("list")
@click.option("--search", default="")
@click.option("--status", default="", type=click.Choice(["", "normal", "suspended", "exited"]))
def list_command(search: str, status: str) -> None:
    """Every organisation (bank accounts masked), tab-separated."""
    from ltc.organisations import service

    rows = _run(lambda: service.all_organisations(_actor("org list"), search, "", status))
    for row in rows:
        click.echo("\t".join(str(v) for v in service.csv_row(row)))


@org.command("set-status")
@click.argument("code")
@click.argument("status", type=click.Choice(["normal", "suspended", "exited"]))
@click.option("--reason", required=True)
@click.option("--from", "effective_on", default="", help="YYYY-MM-DD (default: today)")
def set_status(code: str, status: str, reason: str, effective_on: str) -> None:
    """Change an organisation's status (正常/暂停/退出) with a reason."""
    from ltc import clock
    from ltc.organisations import interface, service

    async def change() -> Any:
        found = await interface.by_code(code)
        actor = _actor("org set-status")
        row = await service.get(actor, found.id if found else 0)
        day = date.fromisoformat(effective_on) if effective_on else clock.today()
        return await service.set_status(actor, row["id"], row["version"], status, reason, day)

    try:
        row = _run(change)
    except ValueError as exc:
        raise click.ClickException(f"日期格式应为 YYYY-MM-DD / bad date: {effective_on}") from exc
    click.echo(f"organisation {row['code']}: {row['status']}")


@click.group()
def region() -> None:
    """Pooling regions, towns and villages (地区管理)."""


@region.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--region", "pooling", required=True, help="The pooling region, e.g. 370983")
@click.option("--dry-run", is_flag=True, help="Validate and count; write nothing")
def region_import(file: Path, pooling: str, dry_run: bool) -> None:
    """Import towns and villages from a UTF-8 CSV: code,name,parent_code (a town's parent is
    the pooling region, a village's its town; the code starts with the parent's code)."""
    from ltc.regions import service

    _existing_file(file)
    _report(_run(lambda: service.import_file(_actor("region import"), file,
                                             region_code=pooling, dry_run=dry_run)), "places")


@region.command("set-bureau")
@click.argument("code")
@click.option("--address", required=True, help="The bureau's office address (printed on notices)")
@click.option("--phone", required=True, help="The bureau's public phone")
@click.option("--code-pattern", default="",
              help="Regular expression for organisation national codes (default: letter + "
                   "region code + 5 digits)")
def set_bureau(code: str, address: str, phone: str, code_pattern: str) -> None:
    """The pooling region's bureau address and phone; notices cannot be published without."""
    from ltc.regions import service

    _run(lambda: service.set_bureau(_actor("region set-bureau"), code, address=address,
                                    phone=phone, code_pattern=code_pattern))
    click.echo(f"region {code}: bureau contact saved")


COMMANDS = [org, region]
