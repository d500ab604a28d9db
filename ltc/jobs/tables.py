from piccolo.columns import Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class OutboxMessage(Table):
    """A job written in the same transaction as the state change that calls for it; the relay
    sends it to the broker only after that transaction commits (ltc.jobs.outbox)."""

    message_id = Varchar(length=36, unique=True, null=False)
    queue_name = Varchar(length=100, null=False)
    actor_name = Varchar(length=100, null=False)
    args = Text(null=False)  # JSON
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    claimed_until = Timestamptz(default=None, null=True)
    sent_at = Timestamptz(default=None, null=True, index=True)
    attempts = Integer(default=0, null=False)
    last_error = Text(default="", null=False)


class JobReceipt(Table):
    """The outbox message ids whose actor has completed: a re-sent copy is skipped."""

    message_id = Varchar(length=36, unique=True, null=False)
    actor_name = Varchar(length=100, null=False)
    done_at = Timestamptz(default=TimestamptzNow(), null=False, index=True)


class ScheduledRun(Table):
    """One row per schedule and period. The UNIQUE (job, period_key) index is what makes
    several schedulers, restarts and catch-up after downtime produce exactly one run per period.

    It is created as a unique index in the migration: Piccolo adds table constraints with
    ALTER TABLE … ADD CONSTRAINT, which SQLite does not support.
    """

    job = Varchar(length=100, null=False)
    period_key = Varchar(length=40, null=False)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
