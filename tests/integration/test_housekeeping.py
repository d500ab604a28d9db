"""The daily purge: what has served its purpose goes; what is still needed stays."""

import os
import time
from datetime import timedelta

import pytest

from ltc import clock, housekeeping
from ltc.accounts.tables import WebSession
from ltc.enrollment.tables import EnrollmentAnswer
from ltc.evidence import rules as evidence_rules

pytestmark = pytest.mark.anyio


async def test_purge_removes_expired_sessions_and_stale_upload_temps(settings, monkeypatch):
    monkeypatch.setenv("LTC_VAR_DIR", str(settings.var_dir))
    now = clock.now()
    await WebSession(key="old", data="{}", expires_at=now - timedelta(hours=1)).save()
    await WebSession(key="live", data="{}", expires_at=now + timedelta(hours=1)).save()
    temps = evidence_rules.temp_dir(settings.media_dir)
    temps.mkdir(parents=True)
    stale, fresh = temps / "upload-stale.part", temps / "upload-fresh.part"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"y")
    two_days_ago = time.time() - 2 * 86_400
    os.utime(stale, (two_days_ago, two_days_ago))
    for answered_on in (clock.today() - timedelta(days=1), clock.today()):
        await EnrollmentAnswer(resident_id="370983195001011235", on_day=clock.today(),
                               answered_on=answered_on, status="enrolled").save()

    await housekeeping.purge_expired()

    assert [r["key"] for r in await WebSession.select(WebSession.key)] == ["live"]
    assert not stale.exists() and fresh.exists()  # an upload in flight is left alone
    # The enrolment system's answers are read only on the day they were given.
    assert [r["answered_on"] for r in await EnrollmentAnswer.select()] == [clock.today()]
