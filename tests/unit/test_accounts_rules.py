
import pytest

from ltc.accounts.rules import (
    check_password,
    chosen_scopes,
    hash_password,
    login_wait_seconds,
    new_api_token,
    password_problems,
    scopes_of,
    stored_scopes,
    token_hash,
)
from ltc.identity import LEGACY_SCOPES, Role, Scope, region_covers


def test_password_hash_verifies_only_the_right_password() -> None:
    encoded = hash_password("correct-horse-9", 1_000)
    assert encoded.startswith("pbkdf2_sha256$1000$")
    assert check_password("correct-horse-9", encoded)
    assert not check_password("correct-horse-8", encoded)
    assert not check_password("correct-horse-9", "garbage")
    assert hash_password("same-pass-1", 1_000) != hash_password("same-pass-1", 1_000)  # salted


@pytest.mark.parametrize(
    ("password", "problems"),
    [("abc12345", 0), ("short1", 1), ("12345678", 1), ("abcdefgh", 1), ("abc", 2)],
)
def test_password_problems_are_listed_all_at_once(password: str, problems: int) -> None:
    assert len(password_problems(password)) == problems


def test_api_tokens_are_random_and_stored_only_as_hashes() -> None:
    token, stored = new_api_token()
    other, _ = new_api_token()
    assert token.startswith("ltc_") and token != other
    assert stored == token_hash(token) and token not in stored


@pytest.mark.parametrize(
    ("actor_path", "object_path", "covered"),
    [("370983", "370983", True), ("370983", "370983/370983001", True),
     ("370983/370983001", "370983/370983001/001", True),
     ("370983/370983001", "370983/370983002", False),
     ("370983", "3709831", False), ("370983/370983001", "370983", False)],
)
def test_a_region_covers_itself_and_what_lies_below(actor_path: str, object_path: str,
                                                    covered: bool) -> None:
    assert region_covers(actor_path, object_path) is covered


def test_only_assessors_and_providers_belong_to_an_organisation() -> None:
    assert {r for r in Role if r.needs_organisation} == {Role.assessor, Role.provider}
    assert all(r.label for r in Role)


@pytest.mark.parametrize(("failures", "wait"), [
    (0, 0), (1, 0), (2, 0),  # typing slips cost nothing
    (3, 1), (4, 2), (5, 900),  # then doubling waits; at the limit (5) the whole window
])
def test_login_wait_grows_then_locks(failures, wait) -> None:
    assert login_wait_seconds(failures, max_failures=5, window_seconds=900) == wait


def test_login_wait_never_exceeds_the_window() -> None:
    assert all(login_wait_seconds(n, 40, 60) <= 60 for n in range(100))
    assert login_wait_seconds(12, 40, 60) == 60 and login_wait_seconds(5, 40, 60) == 4


@pytest.mark.parametrize(("chosen", "scopes", "problem"), [
    (["partner.read"], {Scope.partner_read}, None),
    ([" role.api ", "enrolment.events", "role.api"],
     {Scope.role_api, Scope.enrolment_events}, None),
    ([str(s) for s in Scope], set(Scope), None),
    ([], set(), "请至少选择一项权限范围"),
    (["", "  "], set(), "请至少选择一项权限范围"),
    (["partner.read", "admin.all"], set(), "没有这种权限范围：admin.all"),
])
def test_chosen_scopes(chosen, scopes, problem) -> None:
    found, said = chosen_scopes(chosen)
    assert found == scopes
    assert (said is None) if problem is None else said.startswith(problem)


@pytest.mark.parametrize(("stored", "scopes"), [
    ("enrolment.events role.api", LEGACY_SCOPES),
    ("partner.read", {Scope.partner_read}),
    ("", set()),
    ("partner.read retired.scope", {Scope.partner_read}),  # an unknown one grants nothing
])
def test_scopes_round_trip(stored, scopes) -> None:
    assert scopes_of(stored) == scopes
    assert scopes_of(stored_scopes(scopes)) == scopes
    assert stored_scopes(scopes_of(stored)) == " ".join(sorted(str(s) for s in scopes))
