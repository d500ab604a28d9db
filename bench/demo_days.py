"""The demo county built as if today were other days (each in a fresh var directory), to see
that its stories hold whatever the day: the build stops with StoryNotHeld if a story cannot,
and 吴专家's 专家确认 queue must hold 孙秀珍. Run:
.venv/bin/python -m bench.demo_days 0 5 12 33   (days before the real today; as a module,
so that bench/queue.py does not shadow the standard library's queue)"""

import os
import sys
import tempfile
import time
from datetime import datetime, timedelta
from datetime import time as clock_time


def build_as_of(days_before: int) -> str:
    os.environ["LTC_VAR_DIR"] = tempfile.mkdtemp()
    from ltc import clock, commands, demo
    from ltc.accounts import service as accounts
    from ltc.accounts.tables import User
    from ltc.assessments import experts
    from ltc.audit import keys as audit_keys
    from ltc.cli import _migrate_and_load

    settings = commands.settings()
    audit_keys.init_keys(settings)
    day = clock.today() - timedelta(days=days_before)

    async def run() -> str:
        await _migrate_and_load()
        started = time.monotonic()
        with clock.travel_to(datetime.combine(day, clock_time(12), clock.CHINA)):
            await demo.build("demo-days", demo.THROWAWAY_HASH_ITERATIONS, settings.media_dir)
            expert = await User.select(User.id).where(User.username == "expert").first()
            queue = await experts.confirmation_queue(await accounts.actor_for_user(expert["id"]))
        names = [row["application.person.name"] for row in queue]
        return f"{day}: built in {time.monotonic() - started:.1f} s; 专家确认 queue {names}"

    return commands.run(settings, run)


if __name__ == "__main__":
    for argument in sys.argv[1:] or ["0"]:
        print(build_as_of(int(argument)), flush=True)
