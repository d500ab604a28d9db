"""Pure rules about signing in: passwords and API tokens. No I/O. (Roles and actors are
ltc.identity.)"""

from __future__ import annotations

import hashlib
import hmac
import secrets

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
