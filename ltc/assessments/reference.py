"""Loading the bundled grading rulesets into the database (by `ltc migrate` and `ltc demo`).

A (code, version) is immutable once loaded: assessments record the row they were graded
with, so a changed definition must come as a new version, never as an edit. The first version
of a code is in force from its definition's date; a later version loads PENDING, waiting for an
admin to set the date it takes effect (ltc.assessments.rulesets.activate).
"""

from __future__ import annotations

import json
from datetime import date

from ltc import db
from ltc.assessments import bundled, grading
from ltc.assessments.tables import Ruleset


class RulesetConflict(Exception):
    pass


async def load_rulesets() -> int:
    """Insert bundled rulesets not yet loaded; returns how many were added."""
    added = 0
    async with db.write_transaction():
        for definition in bundled.load_bundled_versions():
            # Refuse a malformed file before storing it.
            grading.parse_ruleset(definition, bundled.load_instrument())
            code, version = definition["code"], int(definition["version"])
            stored = json.dumps(definition, ensure_ascii=False, sort_keys=True)
            existing = await Ruleset.select(Ruleset.definition).where(
                (Ruleset.code == code) & (Ruleset.version == version)).first()
            if existing:
                if existing["definition"] != stored:
                    raise RulesetConflict(
                        f"ruleset {code} version {version} differs from the one already loaded;"
                        " give the change a new version")
                continue
            first = not await Ruleset.exists().where(
                (Ruleset.code == code) & Ruleset.region.is_null())
            await Ruleset(code=code, version=version, region=None,
                          effective_from=date.fromisoformat(definition["effective_from"]),
                          definition=stored, state="ACTIVE" if first else "PENDING").save()
            added += 1
    return added
