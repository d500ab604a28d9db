"""What other parts of LTC read of the family portal (typed)."""

from __future__ import annotations

from datetime import date

from piccolo.query.functions.aggregate import Count

from ltc.family.tables import FamilyRating
from ltc.identity import Actor, in_region


async def rating_counts(actor: Actor, first: date, last: date) -> list[tuple[int, int, int]]:
    """(provider, score, how many) of the families' ratings made in the actor's region
    between two days: the provider evaluation counts them with return-visit surveys."""
    rows = await FamilyRating.select(FamilyRating.provider, FamilyRating.score, Count()).where(
        in_region(actor, FamilyRating.region_path) & (FamilyRating.rated_on >= first)
        & (FamilyRating.rated_on <= last)).group_by(FamilyRating.provider, FamilyRating.score)
    return [(r["provider"], r["score"], r["count"]) for r in rows]
