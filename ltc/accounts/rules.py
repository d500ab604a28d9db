"""Pure rules about signing in: passwords and API tokens. No I/O. (Roles and actors are
ltc.identity.)"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import date
from enum import StrEnum

PASSWORD_MIN_LENGTH = 8
_HASH_ALGORITHM = "pbkdf2_sha256"


def password_problems(password: str) -> list[str]:
    """Every reason the password is unacceptable, in Chinese, all at once."""
    problems = []
    if len(password) < PASSWORD_MIN_LENGTH:
        problems.append(f"密码至少需要{PASSWORD_MIN_LENGTH}个字符")
    if password.isdigit() or password.isalpha():
        problems.append("密码需同时包含字母和数字")
    return problems


def hash_password(password: str, iterations: int) -> str:
    """`pbkdf2_sha256$iterations$salt$hash`: the cost travels with the hash, so it can rise."""
    salt = secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"{_HASH_ALGORITHM}${iterations}${salt}${digest.hex()}"


def check_password(password: str, encoded: str) -> bool:
    try:
        algorithm, iterations, salt, expected = encoded.split("$")
    except ValueError:
        return False
    if algorithm != _HASH_ALGORITHM:
        return False
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), int(iterations))
    return hmac.compare_digest(digest.hex(), expected)


TOKEN_PREFIX = "ltc_"


def new_api_token() -> tuple[str, str]:
    """A new bearer token and its stored hash. The token itself is shown once, never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    # Tokens are 256-bit random, so a plain SHA-256 is enough: nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


FREE_FAILURES = 2  # typing slips: no wait after the first two failures


def login_wait_seconds(failures: int, max_failures: int, window_seconds: int) -> int:
    """How long after the latest failure one (username, address) pair must wait: nothing for
    the first FREE_FAILURES, then 1, 2, 4 … seconds, and the whole window from
    `max_failures` on."""
    if failures >= max_failures:
        return window_seconds
    if failures <= FREE_FAILURES:
        return 0
    return min(2 ** (failures - FREE_FAILURES - 1), window_seconds)


# --- assessor qualifications (29号: at least one 评估专家 on site, two experts confirm) -------

class Qualification(StrEnum):
    assessor = "assessor"  # 评估员
    expert = "expert"  # 评估专家

    @property
    def label(self) -> str:
        return "评估专家" if self is Qualification.expert else "评估员"


def qualification_problems(role: str, kind: str, certificate_no: str,
                           valid_until: date | None) -> dict[str, str]:
    """Every problem with an account's qualification, by form field, in Chinese. Only
    assessors carry one; a kind needs its certificate number and expiry date."""
    fields: dict[str, str] = {}
    if not kind:
        if certificate_no.strip() or valid_until is not None:
            fields["qualification"] = "填写了证书信息，请选择资质类别（评估员或评估专家）"
        return fields
    if kind not in set(Qualification):
        fields["qualification"] = "资质类别只能是评估员（assessor）或评估专家（expert）"
    if role != "assessor":
        fields["qualification"] = "只有评估员角色的账号可以登记评估资质"
    if not certificate_no.strip():
        fields["certificate_no"] = "登记资质时必须填写证书编号"
    elif len(certificate_no.strip()) > 50:
        fields["certificate_no"] = "证书编号不能超过50个字符"
    if valid_until is None:
        fields["qualified_until"] = "登记资质时必须填写证书有效期至（日期）"
    return fields


def is_valid_expert_on(kind: str, valid_until: date | None, on: date) -> bool:
    """An expert qualification counts through its last valid day inclusive."""
    return kind == Qualification.expert and valid_until is not None and on <= valid_until


EXPIRY_WARNING_DAYS = 60


def qualification_status(kind: str, valid_until: date | None, today: date) -> str:
    """What the user list shows next to a qualification: "", 已过期, or 即将到期."""
    if not kind or valid_until is None:
        return ""
    if valid_until < today:
        return "已过期"
    if (valid_until - today).days <= EXPIRY_WARNING_DAYS:
        return "即将到期"
    return ""
