"""Schemathesis hooks (SCHEMATHESIS_HOOKS=support.schemathesis_auth): each API operation is
called with a bearer token of a role it admits, so the fuzzing reaches the handlers instead of
stopping at 403. Tokens come as JSON {role: token} in LTC_FUZZ_TOKENS ("partner": a token with
the scope partner.read), their ids as a JSON list in LTC_FUZZ_TOKEN_IDS: the fuzzing may revoke
any token but these."""

from __future__ import annotations

import json
import os
import re
from typing import Any

import schemathesis

# First match wins; the paths are the OpenAPI templates.
ROLE_BY_PATH = [
    (r"/api/v1/(users|tokens)", "admin"),
    (r"/api/v1/assessments/[^/]+/(conclude|return)$", "reviewer"),
    (r"/api/v1/assessments", "assessor"),
    (r"/api/v1/visits", "provider"),
    (r"/api/v1/partner/", "partner"),  # a token with the scope partner.read only
    (r"/", "clerk"),
]


@schemathesis.auth()
class RoleTokens:
    def get(self, case: Any, context: Any) -> dict[str, str]:
        return json.loads(os.environ["LTC_FUZZ_TOKENS"])

    def set(self, case: Any, data: dict[str, str], context: Any) -> None:
        role = next(role for pattern, role in ROLE_BY_PATH if re.match(pattern, case.path))
        # Every phase passes through here (the filter hooks miss the coverage phase).
        ours = {str(token_id) for token_id in json.loads(os.environ["LTC_FUZZ_TOKEN_IDS"])}
        if str((case.path_parameters or {}).get("token_id")) in ours:
            case.path_parameters["token_id"] = 2**31 - 1
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data[role]}"}

