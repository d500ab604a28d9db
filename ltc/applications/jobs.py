"""The letters answering applications, rendered after the transition commits (the service
puts the job in the outbox): the 补正材料通知书 and the 不予受理告知书."""

from __future__ import annotations

import dramatiq

from ltc.applications import letters
from ltc.applications.service import REFUSAL_LETTER_JOB
from ltc.applications.supplement import MATERIALS_NOTICE_JOB
from ltc.applications.tables import Application
from ltc.audit.documents import render_and_record


@dramatiq.actor(actor_name=MATERIALS_NOTICE_JOB, max_retries=5)
async def render_notice(application_id: int) -> None:
    await render_materials_notice(application_id)


@dramatiq.actor(actor_name=REFUSAL_LETTER_JOB, max_retries=5)
async def render_letter(application_id: int) -> None:
    await render_refusal_letter(application_id)


async def render_materials_notice(application_id: int) -> str:
    """Render and store the 补正材料通知书; idempotent like the decision letter."""
    return await render_and_record(
        "pdf/materials_notice.html", await letters.materials_notice_context(application_id),
        Application.materials_notice_sha256, application_id,
        action="application.materials_notice_rendered", object_type="application")


async def render_refusal_letter(application_id: int) -> str:
    """Render and store the 不予受理告知书; idempotent like the decision letter."""
    return await render_and_record(
        "pdf/refusal_letter.html", await letters.refusal_letter_context(application_id),
        Application.refusal_letter_sha256, application_id,
        action="application.refusal_letter_rendered", object_type="application")
