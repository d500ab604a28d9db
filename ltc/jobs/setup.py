"""What every process that runs jobs does first: install the broker from the settings with
LTC's middleware, then import every actor module (the list lives in workers/)."""

from __future__ import annotations

import dramatiq

from ltc.jobs.broker import install_broker
from ltc.jobs.middleware import Database
from ltc.jobs.outbox import OutboxReceipts
from ltc.settings import Settings


def install(settings: Settings) -> dramatiq.Broker:
    broker = install_broker(settings.broker_url)
    # Order matters: AsyncIO (added by make_broker) boots the loop the others use.
    broker.add_middleware(Database(settings.database_url, settings.database_pool_size))
    broker.add_middleware(OutboxReceipts())
    return broker
