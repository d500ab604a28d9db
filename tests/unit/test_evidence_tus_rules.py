"""tus 1.0 header rules: every row and edge of version, lengths, metadata, PATCH and expiry."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ltc.errors import DomainError, InvalidInput
from ltc.evidence import tus_rules
from ltc.evidence.tus_rules import OffsetMismatch, TusVersionUnsupported


@pytest.mark.parametrize("header", [None, "", "0.2.2", "1.0", "1.0.0 "])
def test_other_versions_are_refused_with_412(header) -> None:
    with pytest.raises(TusVersionUnsupported) as refused:
        tus_rules.check_version(header)
    assert refused.value.status_code == 412


def test_version_1_0_0_is_spoken() -> None:
    tus_rules.check_version("1.0.0")


@pytest.mark.parametrize(("header", "value"), [("0", 0), ("123", 123),
                                               ("9223372036854775807", 2**63 - 1)])
def test_lengths(header, value) -> None:
    assert tus_rules.parse_length(header, "Upload-Length") == value


@pytest.mark.parametrize("header", [None, "", "-1", "1.5", "1e9", " 12", "１２",
                                    "99999999999999999999"])
def test_bad_lengths(header) -> None:
    with pytest.raises(InvalidInput) as refused:
        tus_rules.parse_length(header, "Upload-Offset")
    assert refused.value.code == "tus_bad_upload_offset"


@pytest.mark.parametrize(("header", "parsed"), [
    (None, {}),
    ("", {}),
    ("filename 5YWl5oi36K+E5LywLm1wNA==", {"filename": "入户评估.mp4"}),
    ("assessment_id MTI=,filetype dmlkZW8vbXA0", {"assessment_id": "12",
                                                   "filetype": "video/mp4"}),
    ("flag,filename YQ==", {"flag": "", "filename": "a"}),
    (" filename YQ== , x Yg==", {"filename": "a", "x": "b"}),
])
def test_metadata(header, parsed) -> None:
    assert tus_rules.parse_metadata(header) == parsed


@pytest.mark.parametrize("header", [
    "filename not-base64!", "filename YQ== extra", "a YQ==,a Yg==", ",filename YQ==",
    "filename /w==",  # not UTF-8
    "名 YQ==", "k " + "QUFB" * 1100,
])
def test_bad_metadata(header) -> None:
    with pytest.raises(InvalidInput) as refused:
        tus_rules.parse_metadata(header)
    assert refused.value.code == "tus_bad_metadata"


@pytest.mark.parametrize("content_type", ["application/offset+octet-stream",
                                          "Application/Offset+Octet-Stream; charset=x"])
def test_patch_at_the_offset(content_type) -> None:
    tus_rules.check_patch(content_type, 100, 100)


@pytest.mark.parametrize("content_type", [None, "", "application/octet-stream", "video/mp4"])
def test_patch_of_another_type_is_415(content_type) -> None:
    with pytest.raises(DomainError) as refused:
        tus_rules.check_patch(content_type, 0, 0)
    assert refused.value.status_code == 415


@pytest.mark.parametrize(("claimed", "offset"), [(0, 100), (101, 100), (99, 100)])
def test_patch_elsewhere_is_409(claimed, offset) -> None:
    with pytest.raises(OffsetMismatch) as refused:
        tus_rules.check_patch(tus_rules.PATCH_TYPE, claimed, offset)
    assert refused.value.status_code == 409


@pytest.mark.parametrize(("offset", "received", "length", "fits"), [
    (0, 0, 10, True), (0, 10, 10, True), (5, 5, 10, True), (5, 6, 10, False), (10, 1, 10, False),
])
def test_fits(offset, received, length, fits) -> None:
    if fits:
        tus_rules.check_fits(offset, received, length)
    else:
        with pytest.raises(DomainError) as refused:
            tus_rules.check_fits(offset, received, length)
        assert refused.value.status_code == 413


def test_expires_is_an_http_date_in_gmt() -> None:
    beijing = timezone(timedelta(hours=8))
    at = datetime(2026, 12, 7, 8, 30, 5, tzinfo=beijing)
    assert tus_rules.expires_header(at) == "Mon, 07 Dec 2026 00:30:05 GMT"
    assert tus_rules.expires_header(at.astimezone(UTC)) == "Mon, 07 Dec 2026 00:30:05 GMT"


@pytest.mark.parametrize(("open_lengths", "length", "code"), [
    ([], 100, None),
    ([], 200, None),  # at the bound: exactly 2 × max
    ([100], 100, None),
    ([1, 1], 1, None),
    ([1, 1, 1], 1, "tus_too_many_open"),  # the fourth open upload
    ([100, 100, 100], 1, "tus_too_many_open"),  # the count is told first
    ([100], 101, "tus_open_too_large"),
    ([150, 50], 1, "tus_open_too_large"),
])
def test_open_uploads_are_bounded_in_number_and_declared_bytes(open_lengths, length,
                                                               code) -> None:
    if code is None:
        tus_rules.check_open_uploads(open_lengths, length, max_size=100)
        return
    with pytest.raises(DomainError) as refused:
        tus_rules.check_open_uploads(open_lengths, length, max_size=100)
    assert refused.value.code == code
    assert refused.value.status_code == (409 if code == "tus_too_many_open" else 413)
