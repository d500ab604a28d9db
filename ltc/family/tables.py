"""The family's own records: sign-in attempts (for the daily limit of wrong PINs), their
answer on each visit, and their satisfaction ratings."""

from piccolo.columns import Boolean, Date, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.table import Table

from ltc.careplans.tables import CarePlanLetter
from ltc.clock import ClockNow
from ltc.organisations.tables import Organisation
from ltc.people.tables import Person
from ltc.visits.tables import Visit


class FamilySignIn(Table):
    """A PIN typed on the family's sign-in page; wrong ones per person and civil day are
    limited (ltc.family.rules.MAX_WRONG_PINS)."""

    person = ForeignKey(Person, on_delete=OnDelete.restrict, null=False, index=True)
    letter = ForeignKey(CarePlanLetter, on_delete=OnDelete.restrict, null=False)
    day = Date(null=False)
    correct = Boolean(null=False, default=False)
    created_at = Timestamptz(default=ClockNow(), null=False)


class FamilyAnswer(Table):
    """The family's answer on one visit: confirmed (属实) or disputed (有异议), once."""

    visit = ForeignKey(Visit, on_delete=OnDelete.restrict, null=False, unique=True)
    person = ForeignKey(Person, on_delete=OnDelete.restrict, null=False, index=True)
    letter = ForeignKey(CarePlanLetter, on_delete=OnDelete.restrict, null=False)
    answer = Varchar(length=10, null=False)  # confirmed | disputed
    words = Text(null=False, default="")
    answered_at = Timestamptz(default=ClockNow(), null=False)


class FamilyRating(Table):
    """The family's satisfaction with the provider of the plan in force, 1–5, once a month;
    counted in the provider evaluation's 满意率 with the clerks' return-visit surveys."""

    person = ForeignKey(Person, on_delete=OnDelete.restrict, null=False, index=True)
    provider = ForeignKey(Organisation, on_delete=OnDelete.restrict, null=False)
    letter = ForeignKey(CarePlanLetter, on_delete=OnDelete.restrict, null=False)
    region_path = Varchar(length=200, null=False, index=True)
    month = Date(null=False)  # the first day of the month rated in
    rated_on = Date(null=False)
    score = Integer(null=False)
    comment = Text(null=False, default="")
    created_at = Timestamptz(default=ClockNow(), null=False)
