"""Evidence rules: allowed types, signatures, storage paths, names, times and byte ranges."""

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from ltc.errors import InvalidInput
from ltc.evidence import rules
from ltc.evidence.rules import (
    ByteRange,
    EvidenceTooLarge,
    EvidenceTypeNotAllowed,
    Kind,
    RangeNotSatisfiable,
)

# The first bytes of real files of each kind.
MP4 = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2"
MP4_AVC = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42"
MOV = b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  "
MOV_CLASSIC = b"\x00\x00\x00\x08wide\x00\x1b\x2a\x3cmdat"
WEBM = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
TEXT = b"hello, this is not a video"


def test_max_size_is_two_gibibytes() -> None:
    assert rules.MAX_SIZE == 2 * 1024**3


@pytest.mark.parametrize(
    ("content_type", "kind"),
    [("video/mp4", Kind.video), ("video/quicktime", Kind.video), ("video/webm", Kind.video),
     ("image/jpeg", Kind.photo), ("image/png", Kind.photo)],
)
def test_every_allowed_type_and_its_kind(content_type: str, kind: Kind) -> None:
    assert rules.ALLOWED_TYPES[content_type] == kind
    assert rules.check_declared_type(content_type) == content_type
    assert content_type in rules.TYPE_LABELS


def test_allowed_types_are_exactly_the_five() -> None:
    assert set(rules.ALLOWED_TYPES) == {"video/mp4", "video/quicktime", "video/webm",
                                        "image/jpeg", "image/png"}


@pytest.mark.parametrize(
    ("declared", "normalised"),
    [("Video/MP4", "video/mp4"), ("video/webm; codecs=vp9", "video/webm"),
     (" image/png ", "image/png"), ("image/jpg", "image/jpeg"), ("image/pjpeg", "image/jpeg"),
     ("video/x-m4v", "video/mp4"), (None, ""), ("", "")],
)
def test_declared_types_are_normalised(declared: str | None, normalised: str) -> None:
    assert rules.normalise_type(declared) == normalised


@pytest.mark.parametrize("declared", [None, "", "application/octet-stream",
                                      "binary/octet-stream"])
def test_unknown_declared_type_lets_the_bytes_decide(declared: str | None) -> None:
    assert rules.check_declared_type(declared) == ""
    assert rules.confirm_type("", MOV) == ("video/quicktime", Kind.video)
    assert rules.confirm_type("", PNG) == ("image/png", Kind.photo)
    with pytest.raises(EvidenceTypeNotAllowed):
        rules.confirm_type("", TEXT)


@pytest.mark.parametrize("declared", ["text/plain", "application/pdf", "video/x-msvideo",
                                      "image/gif", "image/heic", "audio/mpeg", "video/*"])
def test_other_types_are_refused_before_any_byte(declared: str) -> None:
    with pytest.raises(EvidenceTypeNotAllowed) as raised:
        rules.check_declared_type(declared)
    assert raised.value.status_code == 415
    assert raised.value.code == "evidence_type_not_allowed"
    assert raised.value.message == "只能上传 MP4、MOV、WebM 视频或 JPEG、PNG 照片"


@pytest.mark.parametrize(
    ("head", "sniffed"),
    [(MP4, "video/mp4"), (MP4_AVC, "video/mp4"), (MOV, "video/quicktime"),
     (MOV_CLASSIC, "video/quicktime"), (WEBM, "video/webm"), (JPEG, "image/jpeg"),
     (PNG, "image/png"), (TEXT, None), (b"", None), (b"\x00\x00\x00\x20ftyp", None),
     (b"\x89PNG", None), (b"GIF89a\x01\x00", None), (b"%PDF-1.7\n", None)],
)
def test_signatures(head: bytes, sniffed: str | None) -> None:
    assert rules.sniff(head) == sniffed


@pytest.mark.parametrize(
    ("declared", "head", "result"),
    [("video/mp4", MP4, ("video/mp4", Kind.video)),
     ("video/mp4", MOV, ("video/mp4", Kind.video)),  # one container family, loosely labelled
     ("video/quicktime", MP4, ("video/quicktime", Kind.video)),
     ("video/quicktime", MOV_CLASSIC, ("video/quicktime", Kind.video)),
     ("video/webm", WEBM, ("video/webm", Kind.video)),
     ("image/jpeg", JPEG, ("image/jpeg", Kind.photo)),
     ("image/png", PNG, ("image/png", Kind.photo))],
)
def test_bytes_confirm_the_declared_type(declared: str, head: bytes,
                                         result: tuple[str, Kind]) -> None:
    assert rules.confirm_type(declared, head) == result


@pytest.mark.parametrize(
    ("declared", "head", "found"),
    [("video/mp4", PNG, "PNG 照片"), ("video/mp4", TEXT, "无法识别的格式"),
     ("video/webm", MP4, "MP4 视频"), ("image/jpeg", PNG, "PNG 照片"),
     ("image/png", JPEG, "JPEG 照片"), ("video/quicktime", WEBM, "WebM 视频"),
     ("image/png", b"", "无法识别的格式")],
)
def test_bytes_that_do_not_fit_are_a_mismatch(declared: str, head: bytes, found: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        rules.confirm_type(declared, head)
    assert raised.value.code == "evidence_type_mismatch"
    assert raised.value.status_code == 422
    assert rules.TYPE_LABELS[declared] in raised.value.message
    assert found in raised.value.message


@pytest.mark.parametrize(("size", "limit", "ok"),
                         [(0, 10, True), (10, 10, True), (11, 10, False),
                          (rules.MAX_SIZE, rules.MAX_SIZE, True),
                          (rules.MAX_SIZE + 1, rules.MAX_SIZE, False)])
def test_size_limit(size: int, limit: int, ok: bool) -> None:
    if ok:
        rules.check_size(size, limit)
        return
    with pytest.raises(EvidenceTooLarge) as raised:
        rules.check_size(size, limit)
    assert raised.value.status_code == 413 and raised.value.code == "evidence_too_large"


def test_too_large_names_the_limit() -> None:
    assert "2 GB" in rules.too_large().message
    assert "1.5 MB" in rules.too_large(1536 * 1024).message


@pytest.mark.parametrize(("size", "label"),
                         [(0, "0 字节"), (1023, "1023 字节"), (1024, "1 KB"),
                          (1536 * 1024, "1.5 MB"), (2 * 1024**3, "2 GB")])
def test_size_labels(size: int, label: str) -> None:
    assert rules.size_label(size) == label


def test_storage_path_is_two_levels_by_hash() -> None:
    digest = "ab" + "cd" + "0" * 60
    assert rules.storage_path(Path("/m"), digest) == Path(f"/m/evidence/ab/cd/{digest}")
    assert rules.temp_dir(Path("/m")) == Path("/m/evidence/tmp")


@pytest.mark.parametrize("digest", ["", "AB" + "0" * 62, "0" * 63, "0" * 65, "../" + "0" * 61,
                                    "g" * 64])
def test_storage_path_refuses_anything_but_a_digest(digest: str) -> None:
    with pytest.raises(ValueError):
        rules.storage_path(Path("/m"), digest)


@pytest.mark.parametrize(
    ("name", "clean"),
    [("a.mp4", "a.mp4"), ("  评估视频.mov ", "评估视频.mov"), ("C:\\fakepath\\IMG_0001.MOV",
                                                            "IMG_0001.MOV"),
     ("/etc/passwd", "passwd"), ("../../x.png", "x.png"), ("d/" + "a" * 200, "a" * 200)],
)
def test_names_lose_any_folder(name: str, clean: str) -> None:
    assert rules.clean_name(name) == clean


@pytest.mark.parametrize(("name", "code"),
                         [(None, "evidence_name_missing"), ("", "evidence_name_missing"),
                          ("   ", "evidence_name_missing"), ("a/..", "evidence_name_missing"),
                          ("a" * 201, "evidence_name_invalid"),
                          ("bad\nname.mp4", "evidence_name_invalid")])
def test_bad_names_are_refused(name: str | None, code: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        rules.clean_name(name)
    assert raised.value.code == code and raised.value.fields


NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
CHINA = timezone(timedelta(hours=8))


@pytest.mark.parametrize(
    ("text", "expected"),
    [(None, None), ("", None), ("2026-11-22T09:30:00+08:00", datetime(2026, 11, 22, 1, 30,
                                                                      tzinfo=UTC)),
     ("2026-11-22T01:30:00Z", datetime(2026, 11, 22, 1, 30, tzinfo=UTC)),
     ("2026-11-23T01:59:00+00:00", datetime(2026, 11, 23, 1, 59, tzinfo=UTC))],  # skew
)
def test_recorded_at_is_iso_with_a_zone(text: str | None, expected: datetime | None) -> None:
    assert rules.parse_recorded_at(text, NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01T00:00:00Z", "2026-11-22T09:30:00",
                                  "2026-11-24T00:00:00+08:00"])
def test_bad_recorded_at_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        rules.parse_recorded_at(text, NOW)
    assert raised.value.code == "invalid_recorded_at"
    assert "recorded_at" in raised.value.fields


def test_recorded_at_keeps_its_instant() -> None:
    value = datetime(2026, 11, 22, 9, 30, tzinfo=CHINA)
    assert rules.check_recorded_at(value, NOW) == value
    assert rules.check_recorded_at(None, NOW) is None


SIZE = 1000


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None),
     ("bytes=0-", ByteRange(0, 999)),
     ("bytes=0-0", ByteRange(0, 0)),
     ("bytes=0-499", ByteRange(0, 499)),
     ("bytes=500-999", ByteRange(500, 999)),
     ("bytes=500-5000", ByteRange(500, 999)),  # clipped to the end
     ("bytes=999-", ByteRange(999, 999)),
     ("bytes=-1", ByteRange(999, 999)),
     ("bytes=-100", ByteRange(900, 999)),
     ("bytes=-5000", ByteRange(0, 999)),  # a suffix longer than the file: all of it
     (" Bytes = 10-19 ", ByteRange(10, 19)),  # lenient about case and spaces
     ("BYTES=10-19", ByteRange(10, 19)),
     ("items=0-10", None),  # another unit: ignored
     ("bytes=0-1,5-6", None)],  # several ranges: ignored, the whole file is sent
)
def test_range_parsing(header: str | None, expected: ByteRange | None) -> None:
    assert rules.parse_range(header, SIZE) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=1000-2000", "bytes=5-3", "bytes=-0",
                                    "bytes=-", "bytes=abc", "bytes=1-2-3", "bytes=", "bytes=-x"])
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable) as raised:
        rules.parse_range(header, SIZE)
    assert raised.value.status_code == 416 and raised.value.size == SIZE


def test_no_range_of_an_empty_file_is_satisfiable() -> None:
    for header in ("bytes=0-", "bytes=-1"):
        with pytest.raises(RangeNotSatisfiable):
            rules.parse_range(header, 0)


def test_byte_range_headers() -> None:
    assert ByteRange(0, 499).length == 500
    assert ByteRange(500, 999).content_range(1000) == "bytes 500-999/1000"
