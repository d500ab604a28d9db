"""The care-plan letter (护理计划告知书), issued with its household PIN after the plan's
confirmation commits (ltc.careplans.letters)."""

from __future__ import annotations

import dramatiq

from ltc.careplans import letters


@dramatiq.actor(actor_name=letters.LETTER_JOB, max_retries=5)
async def issue_letter(letter_id: int) -> None:
    await letters.issue(letter_id)
