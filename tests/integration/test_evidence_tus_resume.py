"""A resumable upload over a real connection: the app under uvicorn on loopback, a client
that stops sending mid-PATCH at three points of a 64 MiB file and resumes each time (HEAD,
then PATCH from the offset the server has), to evidence with the file's own SHA-256. And two
PATCHes of one upload at once: only one appends."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import random
import socket
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import TEST_PASSWORD
from support.evidence_cases import MP4_HEAD, make_case

from ltc.evidence import rules
from ltc.evidence.tables import EvidenceFile, ResumableUpload

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024
TUS = {"Tus-Resumable": "1.0.0"}


def big_video(size: int) -> bytes:
    return MP4_HEAD + random.Random(19).randbytes(size - len(MP4_HEAD))


async def signed_in(server: str) -> tuple[httpx.AsyncClient, dict[str, str]]:
    """A client and the headers of assessor1's session. The cookies are sent by hand: on the
    PostgreSQL pass the app marks them Secure, which httpx keeps from plain http."""
    client = httpx.AsyncClient(base_url=server, timeout=60)
    await client.get("/login")

    def cookie() -> str:
        return "; ".join(f"{k}={v}" for k, v in client.cookies.items())

    response = await client.post("/login", headers={"Cookie": cookie()}, data={
        "username": "assessor1", "password": TEST_PASSWORD,
        "_csrf_token": client.cookies.get("ltc_csrf")})
    assert response.status_code in (302, 303), response.text
    return client, {"x-csrftoken": client.cookies.get("ltc_csrf"), "Cookie": cookie()}


def open_patch(server: str, csrf: dict[str, str], location: str,
               offset: int, remaining: int) -> socket.socket:
    """A PATCH whose headers promise `remaining` bytes, on a raw socket: the test decides
    how many of them are ever sent."""
    url = urlsplit(server)
    head = (f"PATCH {location} HTTP/1.1\r\nHost: {url.netloc}\r\nCookie: {csrf['Cookie']}\r\n"
            f"x-csrftoken: {csrf['x-csrftoken']}\r\nTus-Resumable: 1.0.0\r\n"
            f"Upload-Offset: {offset}\r\nContent-Type: application/offset+octet-stream\r\n"
            f"Content-Length: {remaining}\r\n\r\n")
    sock = socket.create_connection((url.hostname, url.port))
    sock.sendall(head.encode())
    return sock


async def until_unlocked(key: str) -> None:
    """The server has seen the connection go and recorded what it wrote (its lock is off)."""
    for _ in range(600):
        row = await ResumableUpload.select(ResumableUpload.patch_token).where(
            ResumableUpload.key == key).first()
        if row["patch_token"] == "":
            return
        await asyncio.sleep(0.05)
    pytest.fail("the cut PATCH never released its upload")


async def until_locked(key: str) -> None:
    for _ in range(600):
        row = await ResumableUpload.select(ResumableUpload.patch_token).where(
            ResumableUpload.key == key).first()
        if row["patch_token"] != "":
            return
        await asyncio.sleep(0.05)
    pytest.fail("the PATCH never took its upload")


async def new_upload(client, csrf, assessment_id: int, length: int) -> str:
    meta = (f"assessment_id {base64.b64encode(str(assessment_id).encode()).decode()},"
            f"filename {base64.b64encode('入户评估.mp4'.encode()).decode()},"
            f"filetype {base64.b64encode(b'video/mp4').decode()}")
    created = await client.post("/api/v1/uploads", headers={
        **csrf, **TUS, "Upload-Length": str(length), "Upload-Metadata": meta})
    assert created.status_code == 201, created.text
    return created.headers["location"]


async def offset_of(client, csrf, location: str) -> int:
    head = await client.head(location, headers={**csrf, **TUS})
    assert head.status_code == 200
    return int(head.headers["upload-offset"])


async def test_cut_three_times_and_resumed_to_the_same_sha256(server, settings) -> None:
    case = await make_case()
    body = big_video(64 * MiB)
    client, csrf = await signed_in(server)
    location = await new_upload(client, csrf, case["id"], len(body))
    key = location.rsplit("/", 1)[1]

    offset = 0
    for cut in (9 * MiB + 123, 30 * MiB + 7, 51 * MiB + 4567):
        sock = open_patch(server, csrf, location, offset, len(body) - offset)
        sock.sendall(body[offset:cut])
        sock.close()  # the connection drops mid-PATCH
        await until_unlocked(key)
        resumed = await offset_of(client, csrf, location)
        assert offset < resumed <= cut  # kept what arrived whole, never more than was sent
        offset = resumed

    last = await client.patch(location, content=body[offset:], headers={
        **csrf, **TUS, "Upload-Offset": str(offset),
        "Content-Type": "application/offset+octet-stream"})
    assert last.status_code == 204, last.text
    evidence = await EvidenceFile.select().where(
        EvidenceFile.id == int(last.headers["evidence-id"])).first()
    digest = hashlib.sha256(body).hexdigest()
    assert evidence["sha256"] == digest and evidence["size"] == len(body)
    stored = rules.storage_path(settings.media_dir, digest)  # the server shares the var dir
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == digest
    await client.aclose()


async def test_two_patches_of_one_upload_cannot_both_append(server) -> None:
    case = await make_case()
    body = big_video(8 * MiB)
    client, csrf = await signed_in(server)
    location = await new_upload(client, csrf, case["id"], len(body))
    key = location.rsplit("/", 1)[1]

    first = open_patch(server, csrf, location, 0, len(body))
    first.sendall(body[:2 * MiB])  # and holds the connection open
    await until_locked(key)
    second = await client.patch(location, content=body, headers={
        **csrf, **TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    assert second.status_code == 423 and second.json()["error"]["code"] == "upload_locked"
    first.close()
    await until_unlocked(key)
    offset = await offset_of(client, csrf, location)
    assert offset > 0  # what the first one sent is there, once
    stale = await client.patch(location, content=body, headers={
        **csrf, **TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    assert stale.status_code == 409
    await client.aclose()
