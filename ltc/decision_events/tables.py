"""Decision events out (SPEC §8, issue 17): the events LTC publishes, who subscribes to them,
and every delivery and attempt, kept so an administrator can see and re-send them."""

from piccolo.columns import Boolean, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.table import Table

from ltc.accounts.tables import User
from ltc.clock import ClockNow


class EventSubscriber(Table):
    """A partner system that receives decision events at `url`, signed with `secret`
    (shown to the administrator once). A paused subscriber keeps accumulating deliveries
    and catches up, in order per subject, when resumed."""

    name = Varchar(length=100, null=False)
    url = Varchar(length=500, null=False)
    event_types = Text(null=False, default="[]")  # JSON list of EventType values
    secret = Varchar(length=64, null=False)
    active = Boolean(default=True, null=False)
    created_by = ForeignKey(User, on_delete=OnDelete.restrict, null=True)
    created_at = Timestamptz(default=ClockNow(), null=False)
    version = Integer(default=1, null=False)


class EventStream(Table):
    """The last sequence number given out per subject (`person:<id>`, `payee:<key>`).
    Incremented by an upsert in the emitting transaction, which on PostgreSQL also
    serialises two transactions emitting for the same subject."""

    stream = Varchar(length=60, unique=True, null=False)
    last_sequence = Integer(default=0, null=False)


class DecisionEvent(Table):
    """One event, written in the same transaction as the change it reports."""

    event_id = Varchar(length=36, unique=True, null=False)
    event_type = Varchar(length=40, null=False, index=True)
    stream = Varchar(length=60, null=False)
    sequence = Integer(null=False)
    occurred_at = Timestamptz(null=False)
    body = Text(null=False)  # the exact JSON sent to every subscriber
    created_at = Timestamptz(default=ClockNow(), null=False, index=True)


class EventDelivery(Table):
    """One event for one subscriber: pending until a 2xx answer, dead after the retry
    period; per subscriber and stream, the lowest pending sequence goes first."""

    subscriber = ForeignKey(EventSubscriber, on_delete=OnDelete.restrict, null=False)
    event = ForeignKey(DecisionEvent, on_delete=OnDelete.restrict, null=False, index=True)
    stream = Varchar(length=60, null=False)
    sequence = Integer(null=False)
    state = Varchar(length=10, null=False, default="pending")  # pending | delivered | dead
    attempts = Integer(default=0, null=False)
    first_attempt_at = Timestamptz(default=None, null=True)
    next_attempt_at = Timestamptz(default=ClockNow(), null=False)
    claimed_until = Timestamptz(default=None, null=True)
    last_status = Integer(default=None, null=True)
    last_error = Text(null=False, default="")
    delivered_at = Timestamptz(default=None, null=True)
    created_at = Timestamptz(default=ClockNow(), null=False)


class EventDeliveryAttempt(Table):
    """One HTTP attempt of a delivery and what the receiver answered."""

    delivery = ForeignKey(EventDelivery, on_delete=OnDelete.restrict, null=False, index=True)
    number = Integer(null=False)
    at = Timestamptz(default=ClockNow(), null=False)
    status = Integer(default=None, null=True)
    answer = Text(null=False, default="")  # the first characters of the response body
    error = Text(null=False, default="")
    duration_ms = Integer(default=0, null=False)
