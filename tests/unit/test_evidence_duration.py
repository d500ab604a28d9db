"""Video durations read from the container (ltc.evidence.duration), over tiny synthetic files:
MP4/MOV mvhd version 0 and 1, moov before or after the media, 64-bit box sizes, WebM Info
Duration; anything truncated, malformed or unknown is None, never an exception."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from support.media_files import (
    FTYP,
    MDAT,
    SCALE_MS,
    box,
    element,
    large_box,
    moov,
    mvhd,
    webm,
)

from ltc.evidence.duration import mp4_duration, video_duration, webm_duration

MP4_CASES = [
    ("v0, moov first", FTYP + moov(mvhd(1000, 754_500)) + MDAT, 754.5),
    ("v0, moov at the end (phone)", FTYP + MDAT + moov(mvhd(600, 36_000)), 60.0),
    ("v1, 64-bit duration", FTYP + moov(mvhd(90_000, 2**33, version=1)) + MDAT, 2**33 / 90_000),
    ("mvhd after another child", FTYP + moov(box(b"udta", b"x" * 20), mvhd(30, 90)), 3.0),
    ("64-bit mdat size", FTYP + large_box(b"mdat", bytes(100)) + moov(mvhd(1, 42)), 42.0),
    ("QuickTime, no ftyp", box(b"wide", b"") + MDAT + moov(mvhd(600, 1200)), 2.0),
    ("zero duration", FTYP + moov(mvhd(1000, 0)), 0.0),
    ("zero timescale", FTYP + moov(mvhd(0, 100)), None),
    ("duration unknown (all ones)", FTYP + moov(mvhd(1000, 0xFFFFFFFF)), None),
    ("unknown mvhd version", FTYP + moov(box(b"mvhd", b"\x02" + bytes(40))), None),
    ("mvhd too short", FTYP + moov(box(b"mvhd", b"\x00" + bytes(10))), None),
    ("no moov", FTYP + MDAT, None),
    ("moov without mvhd", FTYP + moov(box(b"trak", bytes(16))), None),
    ("truncated: moov cut off", (FTYP + MDAT + moov(mvhd(600, 36_000)))[:-30], None),
    ("box size beyond the file", FTYP + struct.pack(">I", 10**9) + b"mdat" + bytes(10), None),
    ("box size smaller than its header", FTYP + struct.pack(">I", 3) + b"moov", None),
    ("empty", b"", None),
    ("garbage", b"\x00\x01\x02 not a video at all \xff" * 10, None),
    ("a JPEG", b"\xff\xd8\xff\xe0" + bytes(100), None),
]


@pytest.mark.parametrize(("data", "expected"), [c[1:] for c in MP4_CASES],
                         ids=[c[0] for c in MP4_CASES])
def test_mp4_duration(data: bytes, expected: float | None) -> None:
    assert mp4_duration(io.BytesIO(data)) == expected


WEBM_CASES = [
    ("double duration, ms scale",
     webm(SCALE_MS + element(b"\x44\x89", struct.pack(">d", 61_250.0))), 61.25),
    ("float duration, default scale",
     webm(element(b"\x44\x89", struct.pack(">f", 2000.0))), 2.0),
    ("unknown segment size (live recording)",
     webm(SCALE_MS + element(b"\x44\x89", struct.pack(">d", 5000.0)), unknown_segment_size=True),
     5.0),
    ("no Duration (MediaRecorder)", webm(SCALE_MS), None),
    ("negative duration", webm(element(b"\x44\x89", struct.pack(">d", -1.0))), None),
    ("infinite duration", webm(element(b"\x44\x89", struct.pack(">d", float("inf")))), None),
    ("truncated", webm(SCALE_MS + element(b"\x44\x89", struct.pack(">d", 5.0)))[:-6], None),
    ("header only", element(b"\x1a\x45\xdf\xa3", b""), None),
    ("bad length marker", b"\x1a\x45\xdf\xa3\x00", None),
]


@pytest.mark.parametrize(("data", "expected"), [c[1:] for c in WEBM_CASES],
                         ids=[c[0] for c in WEBM_CASES])
def test_webm_duration(data: bytes, expected: float | None) -> None:
    assert webm_duration(io.BytesIO(data)) == expected


def test_video_duration_reads_files_by_their_signature(tmp_path: Path) -> None:
    files = {"a.mp4": (FTYP + MDAT + moov(mvhd(1000, 90_000)), 90.0),
             "b.webm": (webm(SCALE_MS + element(b"\x44\x89", struct.pack(">d", 3000.0))), 3.0),
             "c.png": (b"\x89PNG\r\n\x1a\n" + bytes(50), None)}
    for name, (data, expected) in files.items():
        (tmp_path / name).write_bytes(data)
        assert video_duration(tmp_path / name) == expected, name
    assert video_duration(tmp_path / "missing.mp4") is None


def test_a_large_mdat_is_skipped_not_read(tmp_path: Path) -> None:
    """moov after 64 MB of media: found by seeking over the mdat (a sparse file here)."""
    path = tmp_path / "long.mp4"
    with path.open("wb") as f:
        f.write(FTYP + struct.pack(">I", 8 + 64 * 1024**2) + b"mdat")
        f.seek(64 * 1024**2, 1)
        f.write(moov(mvhd(1000, 3_600_000)))
    reads: list[int] = []

    class Counting(io.FileIO):
        def read(self, size: int = -1) -> bytes:
            reads.append(size)
            return super().read(size)

    with Counting(str(path), "rb") as f:
        assert mp4_duration(f) == 3600.0
    assert max(reads) < 4096 and len(reads) < 20
