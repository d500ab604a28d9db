"""`ltc demo`: one command gives a fresh embedded system where every demo user signs in."""

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import free_port

HOME_TITLES = {"clerk": "经办员工作台", "assessor": "评估员工作台", "provider": "护理机构工作台",
               "reviewer": "审核员工作台", "admin": "系统管理"}


def _start_demo(var_dir: Path, port: int) -> tuple[subprocess.Popen, list[tuple[str, str, str]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LTC_")}
    env["LTC_VAR_DIR"] = str(var_dir)
    process = subprocess.Popen(
        [sys.executable, "-m", "ltc.cli", "demo", "--port", str(port)], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    logins, output = [], []
    deadline = time.monotonic() + 90
    for line in process.stdout:
        output.append(line)
        if match := re.match(r"\s+(clerk|assessor|provider|reviewer|admin)\s+(\S+)\s+(\S+)$",
                             line):
            logins.append(match.groups())
        if "Uvicorn running" in line or time.monotonic() > deadline:
            break
    assert len(logins) == 9, "".join(output)  # one per role, five assessors
    return process, logins


def _wait_for_audit_action(database: Path, action: str, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with sqlite3.connect(database) as connection:
            if connection.execute("SELECT 1 FROM audit_event WHERE action = ?",
                                  (action,)).fetchone():
                return True
        time.sleep(0.2)
    return False


def test_demo_starts_fresh_and_every_demo_user_reaches_their_home_page(tmp_path: Path) -> None:
    port = free_port()
    process, logins = _start_demo(tmp_path / "var", port)
    try:
        for role, username, password in logins:
            # No timing assertion: the demo's first seconds also run the scheduler's catch-up
            # jobs and the worker's PDF warm-up in the same process (a CI run took > 5 s,
            # httpx's default timeout, to answer the first request).
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                client.get("/login")
                response = client.post("/login", data={
                    "username": username, "password": password,
                    "_csrf_token": client.cookies["ltc_csrf"]}, follow_redirects=True)
                assert response.status_code == 200, response.text
                assert f"<h1>{HOME_TITLES[role]}</h1>" in response.text
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=60).json()[
            "status"] == "ok"
        # The in-process scheduler, outbox relay and worker run today's audit-chain check.
        assert _wait_for_audit_action(tmp_path / "var" / "ltc.sqlite3", "audit.chain_verified")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    for key in ("audit_key", "audit_signing_key"):  # made on first start, owner-only
        assert (tmp_path / "var" / key).stat().st_mode & 0o777 == 0o600
    _assert_audit_intact(tmp_path / "var")

    # Run again: a fresh database, so the old password no longer works.
    port = free_port()
    process, second = _start_demo(tmp_path / "var", port)
    try:
        assert second[0][2] != logins[0][2]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    _assert_audit_intact(tmp_path / "var")  # the old database's checkpoints went with it


def _assert_audit_intact(var_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LTC_")}
    verified = subprocess.run([sys.executable, "-m", "ltc.cli", "audit", "verify"],
                              env={**env, "LTC_VAR_DIR": str(var_dir)}, capture_output=True,
                              text=True, timeout=60)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert re.search(r"audit chain intact: \d+ events verified, [1-9]\d* signed checkpoints "
                     "hold", verified.stdout), verified.stdout


@pytest.mark.anyio
async def test_the_demo_assessors_can_be_drawn_under_their_signed_agreements(
        database_url) -> None:
    from ltc import clock, reference
    from ltc.agreements.tables import Agreement
    from ltc.assessments.assignment import eligible_assessors

    await reference.load_demo_data(password_iterations=1_000)
    agreements = await Agreement.select(Agreement.kind, Agreement.state,
                                        Agreement.organisation.code).order_by(Agreement.id)
    assert [(a["kind"], a["state"], a["organisation.code"]) for a in agreements] == [
        ("assessment", "ACTIVE", "AO-370983-01"), ("assessment", "ACTIVE", "AO-370983-02")]
    drawn = await eligible_assessors("370983/370983001/370983001001", on=clock.today())
    # 钱评估's certificate expired: the staff register keeps him out of every draw.
    assert [(c.name, c.expert) for c in drawn] == [
        ("李评估", True), ("周评估", False), ("吴专家", True)]


@pytest.mark.anyio
async def test_the_demo_reviewer_waits_for_an_expert_confirmation(database_url) -> None:
    from ltc import reference
    from ltc.accounts.service import actor_for_user
    from ltc.accounts.tables import User
    from ltc.assessments import experts

    await reference.load_demo_data(password_iterations=1_000)
    expert = await User.select(User.id).where(User.username == "expert").first()
    queue = await experts.confirmation_queue(await actor_for_user(expert["id"]))
    assert [row["application.person.name"] for row in queue] == ["孙秀珍"]
    assert queue[0]["status"].missing == 1


@pytest.mark.anyio
async def test_the_demo_grades_by_the_corrected_ruleset_and_shows_its_impact(
        database_url) -> None:
    from ltc import clock, reference
    from ltc.accounts import service as accounts
    from ltc.accounts.tables import User
    from ltc.assessments import service as assessments
    from ltc.assessments.rulesets import list_rulesets
    from ltc.desk.regrading import compute_impact

    await reference.load_demo_data(password_iterations=1_000)
    in_force = await assessments.ruleset_for("370983/370983001", clock.now())
    assert (in_force["code"], in_force["version"]) == ("national-2021", 2)
    first = next(r for r in await list_rulesets() if r["key"] == "national-2021@1")
    assert first["status"].label.startswith("已被第2版取代") and first["status"].reason
    reviewer = await User.select(User.id).where(User.username == "reviewer").first()
    impact = await compute_impact(await accounts.actor_for_user(reviewer["id"]), "370983",
                                  "national-2021@2")
    assert sorted((r.name, r.grade_change, r.kind.label) for r in impact.rows) == [
        ("李桂兰", "重度失能Ⅰ级 → 中度失能", "失去待遇资格"),
        ("赵福林", "重度失能Ⅲ级 → 重度失能Ⅱ级", "等级降低（资格不变）")]


@pytest.mark.anyio
async def test_the_demo_lists_a_conclusion_about_to_expire(database_url) -> None:
    from ltc import reference
    from ltc.accounts import service as accounts
    from ltc.accounts.tables import User
    from ltc.assessments.validity import conclusions_to_renew

    await reference.load_demo_data(password_iterations=1_000)
    clerk = await User.select(User.id).where(User.username == "clerk").first()
    rows = await conclusions_to_renew(await accounts.actor_for_user(clerk["id"]))
    assert [(r.person_name, r.state.label) for r in rows] == [("孙秀兰", "即将到期")]


@pytest.mark.anyio
async def test_the_demo_has_a_spot_checked_month(database_url) -> None:
    from ltc import reference
    from ltc.spotchecks.tables import SpotCheck

    await reference.load_demo_data(password_iterations=1_000)
    checks = await SpotCheck.select(
        SpotCheck.state, SpotCheck.finding, SpotCheck.expert.username,
        SpotCheck.assessment.application.person.name).order_by(SpotCheck.id)
    assert sorted((c["assessment.application.person.name"], c["state"], c["finding"],
                   c["expert.username"]) for c in checks) == [
        ("李桂兰", "RECORDED", "conform", "checker"), ("赵福林", "PENDING", "", None)]
