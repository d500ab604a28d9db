"""The validated bulk import of enrolment records (CSV from the medical insurance system).

All or nothing: every row is checked first and every bad row is reported with its line
number; if any row is bad, nothing is written. A real import upserts by resident ID in one
transaction with one audit event carrying the counts and the file's SHA-256.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from ltc import clock, csvimport, db
from ltc.audit import service as audit
from ltc.csvimport import BadRows
from ltc.enrollment.rules import EnrollmentRow, is_unchanged, parse_csv
from ltc.enrollment.tables import EnrollmentRecord
from ltc.entitlements import service as entitlements
from ltc.entitlements.rules import EntitlementState
from ltc.entitlements.tables import Entitlement
from ltc.identity import Actor, Role, require_role

IMPORT_ROLES = frozenset({Role.clerk})
_LOOKUP_CHUNK = 500
SOURCE_MAX_LENGTH = 200  # EnrollmentRecord.source


@dataclass(frozen=True)
class ImportReport(csvimport.ImportReport):
    unchanged: int  # rows equal to the stored record


async def _existing(resident_ids: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(resident_ids), _LOOKUP_CHUNK):
        chunk = resident_ids[start:start + _LOOKUP_CHUNK]
        for record in await EnrollmentRecord.select().where(
                EnrollmentRecord.resident_id.is_in(chunk)):
            found[record["resident_id"]] = record
    return found


def _classify(
    rows: list[EnrollmentRow], existing: dict[str, dict[str, Any]]
) -> tuple[list[EnrollmentRow], list[tuple[int, EnrollmentRow]], int]:
    new, changed, unchanged = [], [], 0
    for row in rows:
        record = existing.get(row.resident_id)
        if record is None:
            new.append(row)
        elif is_unchanged(record, row):
            unchanged += 1
        else:
            changed.append((record["id"], row))
    return new, changed, unchanged


def validate_file(data: bytes, today: date) -> list[EnrollmentRow]:
    """The file's rows, or BadRows listing every problem in it."""
    rows, problems = parse_csv(data, today)
    if problems:
        raise BadRows("enrollment_rows_invalid", problems)
    return rows


async def import_enrollment(
    actor: Actor, data: bytes, *, filename: str, dry_run: bool = False,
    today: date | None = None,
) -> ImportReport:
    """Validate the whole file, then (unless `dry_run`) upsert every row by resident ID.
    Raises BadRows, with nothing written, when any row is bad."""
    require_role(actor, IMPORT_ROLES, "导入参保数据")
    sha256 = hashlib.sha256(data).hexdigest()
    rows = validate_file(data, today or clock.today())
    name = Path(filename).name
    source = f"{name} sha256:{sha256[:16]}"[-SOURCE_MAX_LENGTH:]
    if dry_run:
        new, changed, unchanged = _classify(rows, await _existing([r.resident_id for r in rows]))
        return ImportReport(name, sha256, len(rows), len(new), len(changed), dry_run=True,
                            unchanged=unchanged)
    async with db.write_transaction():
        # Classified inside the transaction, so the counts describe exactly what was written.
        new, changed, unchanged = _classify(
            rows, await _existing([r.resident_id for r in rows]))
        now = clock.now()
        for start in range(0, len(new), _LOOKUP_CHUNK):
            await EnrollmentRecord.insert(*[
                EnrollmentRecord(**row.values(), source=source, updated_at=now)
                for row in new[start:start + _LOOKUP_CHUNK]])
        for record_id, row in changed:
            await EnrollmentRecord.update({
                **{getattr(EnrollmentRecord, k): v for k, v in row.values().items()},
                EnrollmentRecord.source: source, EnrollmentRecord.updated_at: now,
            }).where(EnrollmentRecord.id == record_id)
        report = ImportReport(name, sha256, len(rows), len(new), len(changed), dry_run=False,
                              unchanged=unchanged)
        await audit.record(actor, "enrollment.imported", "enrollment_file", sha256[:16],
                           after={k: v for k, v in report.as_dict().items() if k != "dry_run"})
        await _end_entitlements(actor, [*new, *(row for _, row in changed)], source,
                                today or clock.today())
    return report


async def _end_entitlements(actor: Actor, rows: list[EnrollmentRow], source: str,
                            today: date) -> None:
    """An ended enrolment in the file has the effect of an `enrollment_ended` event: the
    entitlements of that person end on the last day enrolled (the file's end date)."""
    last_day = {r.resident_id: r.end_date for r in rows if r.status == "ended" and r.end_date}
    ids = list(last_day)
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        people = await Entitlement.select(Entitlement.person,
                                          Entitlement.person.resident_id).where(
            Entitlement.person.resident_id.is_in(ids[start:start + _LOOKUP_CHUNK])
            & (Entitlement.state != str(EntitlementState.ENDED))).distinct()
        for person in people:
            await entitlements.end_for_person(
                actor, person["person"], last_day[person["person.resident_id"]],
                "enrollment_ended", f"导入 {source}"[:120], today)


async def import_file(actor: Actor, path: str | Path, *, dry_run: bool = False) -> ImportReport:
    path = Path(path)
    return await import_enrollment(actor, path.read_bytes(), filename=path.name,
                                   dry_run=dry_run)
