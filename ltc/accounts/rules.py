"""Pure rules about signing in: passwords and API tokens. No I/O. (Roles and actors are
ltc.identity.)"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

from ltc.identity import Scope

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


def chosen_scopes(values: Iterable[str]) -> tuple[frozenset[Scope], str | None]:
    """The scopes an admin chose for a token, and the Chinese problem with the choice
    (none chosen, or a name that is no scope), if any."""
    chosen = {value.strip() for value in values if value.strip()}
    unknown = sorted(chosen - {str(s) for s in Scope})
    if unknown:
        return frozenset(), ("没有这种权限范围：" + "、".join(unknown) + "。可选："
                             + "、".join(f"{s.value}（{s.label}）" for s in Scope))
    if not chosen:
        return frozenset(), "请至少选择一项权限范围"
    return frozenset(Scope(value) for value in chosen), None


def stored_scopes(scopes: Iterable[Scope]) -> str:
    """Space-separated, sorted, as OAuth writes scopes."""
    return " ".join(sorted(str(s) for s in scopes))


def scopes_of(stored: str) -> frozenset[Scope]:
    """A stored scope list read back; a scope no longer known grants nothing."""
    known = {str(s) for s in Scope}
    return frozenset(Scope(v) for v in stored.split() if v in known)


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
