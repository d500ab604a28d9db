"""Tiny synthetic video containers, built byte by byte: MP4/MOV boxes with a movie header
(mvhd) and WebM (EBML) with Segment/Info. Enough structure for a duration to be read; no
media in them."""

from __future__ import annotations

import struct


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def large_box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 1) + kind + struct.pack(">Q", 16 + len(payload)) + payload


def mvhd(timescale: int, duration: int, version: int = 0) -> bytes:
    if version == 0:
        body = struct.pack(">B3xIIII", 0, 1, 2, timescale, duration)
    else:
        body = struct.pack(">B3xQQIQ", 1, 1, 2, timescale, duration)
    return box(b"mvhd", body + bytes(80))  # rate, volume, matrix, next track id


FTYP = box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2mp41")
MDAT = box(b"mdat", bytes(5000))


def moov(*children: bytes) -> bytes:
    return box(b"moov", b"".join(children))


def ebml_size(n: int) -> bytes:
    return bytes([0x80 | n]) if n < 0x7F else b"\x40" + bytes([n]) if n < 0x3FFF else b""


def element(element_id: bytes, payload: bytes) -> bytes:
    return element_id + ebml_size(len(payload)) + payload


def webm(info: bytes, *, unknown_segment_size: bool = False) -> bytes:
    header = element(b"\x1a\x45\xdf\xa3", element(b"\x42\x82", b"webm"))
    segment_body = element(b"\x11\x4d\x9b\x74", b"") + element(b"\x15\x49\xa9\x66", info)
    if unknown_segment_size:
        return header + b"\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xff" + segment_body
    return header + b"\x18\x53\x80\x67" + b"\x01" + struct.pack(">Q", len(segment_body))[1:] \
        + segment_body


SCALE_MS = element(b"\x2a\xd7\xb1", (1_000_000).to_bytes(3, "big"))
