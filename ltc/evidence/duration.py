"""A video's duration read from its own container, in pure Python: no ffprobe on the server.

- MP4 / MOV (ISO base media): the `moov/mvhd` box, version 0 (32-bit) or 1 (64-bit duration),
  duration / timescale. Only box headers are read while walking to `moov`, seeking over the
  others, so a 2 GB file with `moov` at its end (the usual phone recording) costs a few reads.
- WebM (Matroska): `Segment/Info/Duration` × `TimecodeScale`. Browsers recording with
  MediaRecorder often write no Duration at all: then the length is unknown.

Anything else, or a truncated or malformed file, is None ("时长未知"), never an exception.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import BinaryIO

# Boxes above this size are not read into memory (mvhd is 108 bytes; moov of an hour's video
# with its sample tables can be a few MB; its children are walked by header, not read whole).
MAX_MVHD = 4096
# Matroska: how many elements of a level are looked at before giving up (no endless walks).
MAX_ELEMENTS = 512

EBML_MAGIC = b"\x1a\x45\xdf\xa3"
SEGMENT, INFO, TIMECODE_SCALE, DURATION = 0x18538067, 0x1549A966, 0x2AD7B1, 0x4489


def video_duration(path: Path) -> float | None:
    """The duration in seconds of the video at `path`, or None when it cannot be read."""
    try:
        with path.open("rb") as f:
            head = f.read(4)
            f.seek(0)
            if head == EBML_MAGIC:
                return webm_duration(f)
            return mp4_duration(f)
    except OSError:
        return None


def _file_size(f: BinaryIO) -> int:
    f.seek(0, 2)
    size = f.tell()
    f.seek(0)
    return size


def _boxes(f: BinaryIO, start: int, end: int):
    """(type, payload start, payload end) of each box in [start, end); stops at a bad header."""
    position = start
    while position + 8 <= end:
        f.seek(position)
        header = f.read(8)
        if len(header) < 8:
            return
        size, kind = struct.unpack(">I4s", header)
        payload = position + 8
        if size == 1:  # 64-bit size follows the type
            large = f.read(8)
            if len(large) < 8:
                return
            size = struct.unpack(">Q", large)[0]
            payload = position + 16
        elif size == 0:  # the box runs to the end of the file
            size = end - position
        if size < payload - position or position + size > end:
            return
        yield kind, payload, position + size
        position += size


def mp4_duration(f: BinaryIO) -> float | None:
    """moov/mvhd of an MP4 or MOV file, or None."""
    size = _file_size(f)
    for kind, start, end in _boxes(f, 0, size):
        if kind != b"moov":
            continue
        for child, child_start, child_end in _boxes(f, start, end):
            if child == b"mvhd" and child_end - child_start <= MAX_MVHD:
                f.seek(child_start)
                return _mvhd(f.read(child_end - child_start))
        return None
    return None


def _mvhd(payload: bytes) -> float | None:
    """version(1) flags(3); v0: created(4) modified(4) timescale(4) duration(4);
    v1: created(8) modified(8) timescale(4) duration(8)."""
    if not payload:
        return None
    version = payload[0]
    if version == 0 and len(payload) >= 20:
        timescale, duration = struct.unpack(">II", payload[12:20])
        unknown = 0xFFFFFFFF
    elif version == 1 and len(payload) >= 32:
        timescale, duration = struct.unpack(">IQ", payload[20:32])
        unknown = 0xFFFFFFFFFFFFFFFF
    else:
        return None
    if timescale == 0 or duration == unknown:  # all ones: "unknown" in the standard
        return None
    return duration / timescale


def _vint(f: BinaryIO, *, strip_marker: bool) -> tuple[int, int] | None:
    """A Matroska variable-length integer: (value, bytes read). Element ids keep their length
    marker; sizes drop it. An all-ones size means "unknown" and is returned as -1."""
    first = f.read(1)
    if not first:
        return None
    byte = first[0]
    length = next((n for n in range(1, 9) if byte & (0x80 >> (n - 1))), 0)
    if length == 0:
        return None
    rest = f.read(length - 1)
    if len(rest) < length - 1:
        return None
    value = byte & (0xFF >> length) if strip_marker else byte
    for b in rest:
        value = (value << 8) | b
    if strip_marker and value == (1 << (7 * length)) - 1:
        return -1, length
    return value, length


def _elements(f: BinaryIO, start: int, end: int | None):
    """(id, payload start, payload size or -1 when unknown) of the elements from `start`."""
    position = start
    for _ in range(MAX_ELEMENTS):
        if end is not None and position >= end:
            return
        f.seek(position)
        element = _vint(f, strip_marker=False)
        size = _vint(f, strip_marker=True) if element else None
        if element is None or size is None:
            return
        payload = position + element[1] + size[1]
        yield element[0], payload, size[0]
        if size[0] < 0:
            return
        position = payload + size[0]


def webm_duration(f: BinaryIO) -> float | None:
    """Segment/Info/Duration (a float in TimecodeScale units, nanoseconds each by default)."""
    for element, start, size in _elements(f, 0, None):
        if element != SEGMENT:
            continue
        end = None if size < 0 else start + size
        for child, child_start, child_size in _elements(f, start, end):
            if child != INFO or child_size < 0:
                continue
            scale, duration = 1_000_000, None
            for leaf, leaf_start, leaf_size in _elements(f, child_start,
                                                         child_start + child_size):
                f.seek(leaf_start)
                data = f.read(leaf_size) if 0 < leaf_size <= 8 else b""
                if leaf == TIMECODE_SCALE and data:
                    scale = int.from_bytes(data, "big")
                elif leaf == DURATION and len(data) in (4, 8):
                    duration = struct.unpack(">f" if len(data) == 4 else ">d", data)[0]
            if duration is None or not math.isfinite(duration) or duration < 0 or scale <= 0:
                return None
            return duration * scale / 1e9
        return None
    return None
