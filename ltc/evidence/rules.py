"""What evidence may be uploaded, how its bytes are recognised, where they are kept, and how a
player's Range request is read. Pure functions: no I/O, no framework imports."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path, PurePath

from ltc.errors import DomainError, InvalidInput

MAX_SIZE = 2 * 1024**3  # 2 GiB: about an hour of 1080p from a tablet camera
MAX_NAME_LENGTH = 200  # EvidenceFile.original_name
SNIFF_BYTES = 16  # enough for every signature below


class Kind(StrEnum):
    video = "video"
    photo = "photo"


ALLOWED_TYPES: dict[str, Kind] = {
    "video/mp4": Kind.video,
    "video/quicktime": Kind.video,
    "video/webm": Kind.video,
    "image/jpeg": Kind.photo,
    "image/png": Kind.photo,
}

TYPE_LABELS = {
    "video/mp4": "MP4 视频",
    "video/quicktime": "MOV 视频",
    "video/webm": "WebM 视频",
    "image/jpeg": "JPEG 照片",
    "image/png": "PNG 照片",
}

# Names some clients use for an allowed type.
ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "video/x-m4v": "video/mp4"}

# Declared by browsers that do not know a file's type (e.g. .mov on a PC without QuickTime):
# the bytes then decide, and must still be one of the allowed types.
UNKNOWN_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})

# Classic QuickTime files may begin with one of these atoms instead of `ftyp`.
QUICKTIME_FIRST_ATOMS = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})

NOT_ALLOWED_MESSAGE = "只能上传 MP4、MOV、WebM 视频或 JPEG、PNG 照片"


class EvidenceTooLarge(DomainError):
    status_code = 413


class EvidenceTypeNotAllowed(DomainError):
    status_code = 415


class RangeNotSatisfiable(DomainError):
    status_code = 416

    def __init__(self, size: int) -> None:
        self.size = size
        super().__init__("range_not_satisfiable", "请求的播放位置超出了文件范围")


def too_large(limit: int = MAX_SIZE) -> EvidenceTooLarge:
    return EvidenceTooLarge(
        "evidence_too_large",
        f"文件超过 {size_label(limit)} 的上限，请分段录制后分别上传")


def size_label(size: int) -> str:
    """`2 GB`, `1.5 MB`: binary units, as file managers on tablets show them."""
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            value = size / factor
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} 字节"


def normalise_type(declared: str | None) -> str:
    """`Video/MP4; codecs=avc1` → `video/mp4`; aliases to their usual name."""
    base = (declared or "").split(";", 1)[0].strip().lower()
    return ALIASES.get(base, base)


def check_declared_type(declared: str | None) -> str:
    """The normalised declared type; unknown (octet-stream) stays "" for the bytes to decide.
    Anything else outside the allowed list is refused before a byte is read."""
    content_type = normalise_type(declared)
    if content_type in UNKNOWN_TYPES:
        return ""
    if content_type not in ALLOWED_TYPES:
        raise EvidenceTypeNotAllowed("evidence_type_not_allowed", NOT_ALLOWED_MESSAGE)
    return content_type


def sniff(head: bytes) -> str | None:
    """The allowed content type the first bytes look like, or None. MP4 and QuickTime share
    the ISO base-media `ftyp` box; QuickTime's brand is `qt  `."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    if len(head) >= 8 and head[4:8] in QUICKTIME_FIRST_ATOMS:
        return "video/quicktime"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return None


def matches(declared: str, sniffed: str | None) -> bool:
    """Do the bytes fit the declared type? MP4 and MOV are one container family: cameras and
    phones label them loosely, so either `ftyp` brand fits either declaration."""
    if sniffed is None:
        return False
    if declared == sniffed:
        return True
    family = {"video/mp4", "video/quicktime"}
    return declared in family and sniffed in family


def confirm_type(declared: str, head: bytes) -> tuple[str, Kind]:
    """The content type to record and its kind, from the declared type (already checked by
    `check_declared_type`) and the first bytes. Raises when the bytes do not fit."""
    sniffed = sniff(head)
    if declared == "":
        if sniffed is None:
            raise EvidenceTypeNotAllowed("evidence_type_not_allowed", NOT_ALLOWED_MESSAGE)
        return sniffed, ALLOWED_TYPES[sniffed]
    if not matches(declared, sniffed):
        found = TYPE_LABELS.get(sniffed or "", "无法识别的格式")
        raise InvalidInput(
            "evidence_type_mismatch",
            f"文件内容与声明的类型不符（声明为{TYPE_LABELS[declared]}，实际为{found}），"
            "请选择原始的视频或照片文件",
        )
    return declared, ALLOWED_TYPES[declared]


def check_size(size: int, limit: int = MAX_SIZE) -> None:
    if size > limit:
        raise too_large(limit)


_HEX64 = re.compile(r"[0-9a-f]{64}")


def storage_path(media_dir: Path, sha256: str) -> Path:
    """`<media>/evidence/ab/cd/<sha256>`: two levels of 256 folders keep directories small."""
    if not _HEX64.fullmatch(sha256):
        raise ValueError(f"not a lowercase SHA-256 hex digest: {sha256!r}")
    return media_dir / "evidence" / sha256[:2] / sha256[2:4] / sha256


def temp_dir(media_dir: Path) -> Path:
    """Uploads in flight; on the same filesystem as the store, so placing one is a link."""
    return media_dir / "evidence" / "tmp"


def clean_name(name: str | None) -> str:
    """The file's own name, without any folder a browser or client put in front of it
    (`C:\\fakepath\\a.mp4`). Refuses an empty or overlong name."""
    raw = (name or "").replace("\\", "/")
    base = PurePath(raw).name.strip() if raw.strip() else ""
    if not base or base in (".", ".."):
        raise InvalidInput("evidence_name_missing", "请提供文件名（name 参数）",
                           {"name": "请提供文件名"})
    if any(ord(c) < 32 for c in base):
        raise InvalidInput("evidence_name_invalid", "文件名不能包含控制字符",
                           {"name": "文件名不能包含控制字符"})
    if len(base) > MAX_NAME_LENGTH:
        raise InvalidInput("evidence_name_invalid", f"文件名不能超过{MAX_NAME_LENGTH}个字符",
                           {"name": f"文件名不能超过{MAX_NAME_LENGTH}个字符"})
    return base


def check_recorded_at(value: datetime | None, now: datetime) -> datetime | None:
    """Recorded-at must be aware and not in the future (a day of clock skew is tolerated:
    tablets in the field are not always set right)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidInput("invalid_recorded_at",
                           "录制时间必须带时区，例如 2026-11-22T09:30:00+08:00",
                           {"recorded_at": "录制时间必须带时区"})
    if (value - now).total_seconds() > 86_400:
        raise InvalidInput("invalid_recorded_at", "录制时间晚于当前时间，请检查设备时间",
                           {"recorded_at": "录制时间晚于当前时间"})
    return value


def parse_recorded_at(text: str | None, now: datetime) -> datetime | None:
    """ISO 8601 with a zone (`…Z` or `…+08:00`), as the API takes it."""
    if text is None or not text.strip():
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput("invalid_recorded_at",
                           "录制时间格式有误，请使用 ISO 8601 格式，例如 2026-11-22T09:30:00+08:00",
                           {"recorded_at": "格式有误"}) from None
    return check_recorded_at(value, now)


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive, as in Content-Range

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


_RANGE = re.compile(r"(\d*)-(\d*)")


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """One byte range of a file of `size` bytes, or None for "send the whole file".

    None for no header, another unit, or several ranges (RFC 9110 lets a server ignore a
    Range; media players ask for one). A malformed or unsatisfiable bytes range raises
    RangeNotSatisfiable (416).
    """
    if header is None:
        return None
    unit, sep, spec = header.strip().partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    if "," in spec:
        return None
    match = _RANGE.fullmatch(spec.strip())
    if match is None:
        raise RangeNotSatisfiable(size)
    first, last = match.groups()
    if first == "" and last == "":
        raise RangeNotSatisfiable(size)
    if first == "":  # the last n bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return ByteRange(max(0, size - suffix), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if end < start or start >= size:
        raise RangeNotSatisfiable(size)
    return ByteRange(start, min(end, size - 1))
