"""The policy sandbox's pure parts: which town a line's region lies in, and the labels of
the ways a person's month can differ."""

import pytest

from ltc.payouts.rules import SANDBOX_CHANGE_LABELS, SandboxChange
from ltc.payouts.sandbox import town_of


@pytest.mark.parametrize(("region_path", "town"), [
    ("370983/370983001/370983001002", "370983/370983001"),  # a village
    ("370983/370983001", "370983/370983001"),  # the town itself
    ("370983", "370983"),  # recorded at the pooling region
    ("370983/", "370983"),
])
def test_a_lines_town(region_path: str, town: str) -> None:
    assert town_of(region_path, "370983") == town


def test_every_change_reads_in_chinese() -> None:
    assert set(SANDBOX_CHANGE_LABELS) == set(SandboxChange)
    assert all(not SandboxChange(c).label.isascii() for c in SandboxChange)
