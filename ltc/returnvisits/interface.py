"""What other parts of LTC may ask of return-visit sampling."""

from __future__ import annotations

from datetime import date

from ltc.identity import Actor
from ltc.returnvisits import queries
from ltc.returnvisits.rules import SampleResults


async def results_by_provider(actor: Actor, month: date) -> dict[int, SampleResults]:
    """Each provider's return visits of the home visits of `month`, in the actor's region."""
    return {provider: SampleResults.of(counts)
            for provider, counts in (await queries.outcomes_by_provider(actor, month)).items()}


async def satisfaction_counts(actor: Actor, month: date) -> list[tuple[int, int, int]]:
    """(provider, score 1–5, count) given on the return-visit calls about `month`'s visits."""
    return await queries.satisfaction_counts(actor, month)
