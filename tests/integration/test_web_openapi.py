"""The OpenAPI document tells the truth: schemathesis calls every API operation of a real
server (a few examples each, valid and invalid input) with a token of a role the operation
admits, on a database with the demo data, and finds no server error and no response that the
document does not describe (status, content type, headers, body schema)."""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

import anyio
import pytest
from conftest import FAST_HASH_ITERATIONS, app_env, free_port, start_app

from ltc import demo
from ltc.accounts import service as accounts
from ltc.identity import SYSTEM
from ltc.web.openapi import ERROR_STATUSES

pytestmark = pytest.mark.anyio

SUPPORT = Path(__file__).resolve().parent.parent
ST = Path(sys.executable).with_name("st")


async def test_every_api_operation_declares_our_error_body_for_every_error_status(
        client) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    assert all(path.startswith("/api/v1/") for path in document["paths"])  # pages are HTML
    operations = [(path, method, operation) for path, item in document["paths"].items()
                  for method, operation in item.items() if isinstance(operation, dict)]
    assert len(operations) >= 25
    for path, method, operation in operations:
        for status in ERROR_STATUSES:
            body = operation["responses"][str(status)]["content"]["application/json"]
            assert body["schema"] == {"$ref": "#/components/schemas/Error"}, (method, path)
    assert "detail" not in json.dumps(document)  # Litestar's default error body is gone
    error = document["components"]["schemas"]["ErrorDetail"]
    assert error["required"] == ["code", "fields", "message"]
    assert error["properties"]["fields"]["additionalProperties"] == {"type": "string"}


# Role → (region, organisation) of the token, as the demo's users of that role.
TOKEN_ROLES = {"admin": ("370983", None), "clerk": ("370983", None),
               "reviewer": ("370983", None), "assessor": ("370983", "AO-370983-01"),
               "provider": ("370983001", "ORG-P-001")}


async def test_schemathesis_finds_no_server_error_and_no_undocumented_response(
        database_url: str, tmp_path: Path) -> None:
    await demo.build("demo-fuzz", FAST_HASH_ITERATIONS, tmp_path / "media")
    tokens, token_ids = {}, []
    for role, (region, organisation) in TOKEN_ROLES.items():
        tokens[role], row = await accounts.issue_token(
            SYSTEM, name=f"fuzz-{role}", role=role, region_code=region,
            organisation_code=organisation)
        token_ids.append(row["id"])
    tokens["partner"], row = await accounts.issue_token(
        SYSTEM, name="fuzz-partner", role="clerk", region_code="370983",
        organisation_code=None, scopes=["partner.read"])
    token_ids.append(row["id"])
    port = free_port()
    env = app_env(database_url, tmp_path, LTC_PASSWORD_ITERATIONS=str(FAST_HASH_ITERATIONS))
    server = start_app([sys.executable, "-m", "uvicorn", "ltc.app:create_app", "--factory",
                        "--host", "127.0.0.1", "--port", str(port)], env, port)
    server_log: list[str] = []
    # Drained as it comes: a full pipe of access-log lines would stall the server.
    threading.Thread(target=lambda: server_log.extend(server.stdout), daemon=True).start()
    try:
        with anyio.fail_after(300):
            run = await anyio.run_process(
                [str(ST), "run", f"http://127.0.0.1:{port}/schema/openapi.json",
                 "--checks", "all", "--exclude-checks", "positive_data_acceptance",
                 "--max-examples", "15", "--seed", "13", "--workers", "1",
                 "--generation-database", "none", "--no-color", "--request-timeout", "20"],
                env={**os.environ, "SCHEMATHESIS_HOOKS": "support.schemathesis_auth",
                     "PYTHONPATH": str(SUPPORT), "LTC_FUZZ_TOKENS": json.dumps(tokens),
                     "LTC_FUZZ_TOKEN_IDS": json.dumps(token_ids)},
                cwd=tmp_path, check=False)
    finally:
        server.terminate()
        server.wait(timeout=10)
    output = run.stdout.decode() + run.stderr.decode()
    report = tmp_path / "schemathesis.txt"
    report.write_text(output + "\n\nserver:\n" + "".join(server_log))
    failures = output[min(output.find(section) % len(output) for section in
                          ("== FAILURES ==", "== ERRORS ==")):]
    assert run.returncode == 0, f"{report}:\n{failures[:15000]}"
    # The partners' operations were reached with their token, not stopped at 403.
    for path in ("/status", "/entitlement", "/care-plan"):
        assert any(f"/api/v1/partner{path} HTTP/1.1\" 422" in line for line in server_log), path
