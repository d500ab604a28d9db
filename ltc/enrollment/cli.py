"""`ltc enrollment …`: enrolment data for support staff .

Exit codes: 0 imported (or validated, with --dry-run); 2 the file has bad rows, every one
listed, nothing imported; 1 anything else (configuration, unreadable file).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ltc import commands
from ltc.identity import Actor, ActorKind

EXIT_BAD_ROWS = 2
CLI_ACTOR = Actor(kind=ActorKind.system, id=None, name="命令行 ltc enrollment import", role=None)


@click.group()
def enrollment() -> None:
    """Basic medical insurance enrolment data (参保数据)."""


@enrollment.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True,
              help="Validate and count new / updated / unchanged rows; write nothing")
def import_command(file: Path, dry_run: bool) -> None:
    """Import enrolment records from a UTF-8 CSV file (with or without BOM).

    Columns: resident_id, insurance_number, name, scheme (resident|employee), region_code,
    status (enrolled|ended), start_date, end_date (YYYY-MM-DD; only when ended).
    """
    from ltc.enrollment.importer import BadRows, import_file

    settings = commands.settings()
    if not file.is_file():
        # Not click's exists=True: its usage error exits 2, which here means "bad rows".
        raise click.ClickException(f"文件不存在或无法读取 / no such file: {file}")
    try:
        report = commands.run(settings, lambda: import_file(CLI_ACTOR, file, dry_run=dry_run))
    except BadRows as exc:
        click.echo(exc.message, err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(EXIT_BAD_ROWS)
    mode = ("检查通过（试运行，未写入）/ dry run, nothing written" if dry_run
            else "已导入 / imported")
    click.echo(f"{report.filename}: {mode}")
    click.echo(f"  rows {report.rows}  new {report.new}  updated {report.updated}  "
               f"unchanged {report.unchanged}")
    click.echo(f"  sha256 {report.sha256}")


COMMANDS = [enrollment]


if __name__ == "__main__":
    enrollment()
