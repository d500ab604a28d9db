"""What other parts of LTC may read of care plans (typed; no other context reads the plan
tables)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from ltc import clock
from ltc.careplans.rules import CONFIRMED, FamilyLetter, PlanState, plan_in_force
from ltc.careplans.tables import CareItem, CarePlan
from ltc.settings import Settings


@dataclass(frozen=True)
class PlanRef:
    """A care plan version in force, as a provider's exit hands its clients over."""

    id: int
    entitlement: int
    person: int
    person_name: str
    region_path: str
    care_form: str
    provider: int | None
    starts_on: date


async def current_providers(person_id: int) -> set[int]:
    """The care providers (organisation ids) of the person's plans in force: their staff and
    assessors withdraw from assessing the person (回避)."""
    rows = await CarePlan.select(CarePlan.provider).where(
        (CarePlan.person == person_id) & (CarePlan.state == str(PlanState.ACTIVE))
        & CarePlan.provider.is_not_null())
    return {row["provider"] for row in rows}


async def household_pin(person_id: int, provider_id: int,
                        at: datetime | None = None) -> tuple[str, str | None]:
    """For visit logging: whether the person is the provider's beneficiary (not_served,
    served, or in_force: served by the plan in force today), and the hash of the
    household's current confirmation PIN (None while none has been issued or not in force).
    `at`: as of that moment (a visit recorded offline) instead of now."""
    from ltc.careplans.letters import current_pin_hash

    return await current_pin_hash(person_id, provider_id, at)


async def pin_matches(pin: str, encoded: str) -> bool:
    """Whether `pin` is the household PIN hashed as `encoded` (checked in a worker thread:
    scrypt is deliberately slow)."""
    from ltc.careplans.letters import pin_matches as matches

    return await matches(pin, encoded)


async def family_letter(secret_key: str, token: str) -> tuple[str, FamilyLetter | None]:
    """The letter a family's link names, if the link is good (see letters.letter_for_link)."""
    from ltc.careplans.letters import letter_for_link

    return await letter_for_link(secret_key, token)


async def family_letter_current(letter_id: int) -> FamilyLetter | None:
    """The letter a family signed in with, while it is still the person's newest (a
    re-issued letter signs the old one's sessions out)."""
    from ltc.careplans.letters import current_letter

    return (await current_letter(letter_id))[1]


async def family_link(settings: Settings, person_id: int) -> str | None:
    """The link on the person's newest printed letter, None when there is none."""
    from ltc.careplans.letters import newest_family_link

    return await newest_family_link(settings, person_id)


@dataclass(frozen=True)
class PlanItem:
    code: str
    name: str


@dataclass(frozen=True)
class PlanSummary:
    """The plan in force, as the family reads it."""

    provider_id: int | None
    plan_no: int
    starts_on: object  # date
    care_form: str
    provider_name: str
    provider_phone: str
    visits_per_month: int
    items: tuple[PlanItem, ...]
    id: int


async def plan_summary(person_id: int) -> PlanSummary | None:
    """The person's confirmed plan in force today, None when there is none."""
    plans = await CarePlan.select(
        CarePlan.id, CarePlan.state, CarePlan.starts_on, CarePlan.plan_no, CarePlan.provider,
        CarePlan.care_form, CarePlan.visits_per_month, CarePlan.items,
        CarePlan.provider.name, CarePlan.provider.contact_phone).where(
        (CarePlan.person == person_id) & CarePlan.state.is_in([str(s) for s in CONFIRMED]))
    plan = plan_in_force(plans, clock.today())
    if plan is None:
        return None
    codes = json.loads(plan["items"])
    names = await item_names(codes)
    return PlanSummary(plan["provider"], plan["plan_no"], plan["starts_on"], plan["care_form"],
                       plan["provider.name"] or "", plan["provider.contact_phone"] or "",
                       plan["visits_per_month"] or 0,
                       tuple(PlanItem(c, names.get(c, c)) for c in codes), plan["id"])


async def item_names(codes: list[str]) -> dict[str, str]:
    """The care items' Chinese names by code."""
    return {r["code"]: r["name_zh"] for r in await CareItem.select(
        CareItem.code, CareItem.name_zh).where(CareItem.code.is_in(codes or [""]))}


def _in_force_of(provider_id: int):
    return (CarePlan.provider == provider_id) & (CarePlan.state == str(PlanState.ACTIVE))


async def plans_in_force_of(provider_id: int) -> list[PlanRef]:
    """The provider's clients: the current (ACTIVE) plan versions that name it, by person."""
    rows = await CarePlan.select(
        CarePlan.id, CarePlan.entitlement, CarePlan.person,
        CarePlan.person.name.as_alias("person_name"), CarePlan.region_path,
        CarePlan.care_form, CarePlan.provider, CarePlan.starts_on,
    ).where(_in_force_of(provider_id)).order_by(CarePlan.region_path).order_by(CarePlan.id)
    return [PlanRef(**row) for row in rows]


async def client_counts(provider_ids: list[int]) -> dict[int, int]:
    """How many current plans name each provider (0 for none)."""
    counts = dict.fromkeys(provider_ids, 0)
    if provider_ids:
        rows = await CarePlan.select(CarePlan.provider).where(
            CarePlan.provider.is_in(provider_ids) & (CarePlan.state == str(PlanState.ACTIVE)))
        for row in rows:
            counts[row["provider"]] += 1
    return counts

