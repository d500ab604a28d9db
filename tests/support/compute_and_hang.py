"""Run by test_payouts' kill -9 test: compute a payout draft, but hang inside the
transaction after the old lines were deleted and the new regular ones inserted, until the
test kills this process."""

import asyncio
import sys
import time
from pathlib import Path

from ltc import db
from ltc.payouts import computation, service


def hang(*args: object, **kwargs: object) -> tuple[str, ...]:
    Path(sys.argv[3]).write_text("deleted, now hanging")
    time.sleep(120)
    raise SystemExit("not killed in time")


async def main() -> None:
    db.bind(db.make_engine(sys.argv[1]))
    computation.carry_failed_payments = hang
    await service.compute(int(sys.argv[2]))


asyncio.run(main())
