"""Rendered documents (notices, decision letters, statements): content-addressed files under
LTC_MEDIA_DIR/documents, named by their SHA-256, written atomically. Rendering the same
document again gives the same bytes, hence the same name: storing it twice is a no-op.
(Rendering one and recording it on its row, audited: ltc.audit.documents.)

Also the integrity checks of stored files, documents and evidence alike: served only while
their bytes match the recorded hash (VerifiedFiles), and every recorded one re-hashed on demand
(verify_sources, for `ltc evidence verify`)."""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from piccolo.columns import Column

from ltc.errors import DomainError
from ltc.settings import Settings


def path_for(sha256: str, media_dir: Path | None = None, suffix: str = ".pdf") -> Path:
    media_dir = media_dir or Settings.from_env().media_dir
    return media_dir / "documents" / sha256[:2] / f"{sha256}{suffix}"


def store(data: bytes, media_dir: Path | None = None, suffix: str = ".pdf") -> str:
    """Write `data` under its SHA-256 (temp file, fsync, rename) and return the hash."""
    sha256 = hashlib.sha256(data).hexdigest()
    final = path_for(sha256, media_dir, suffix)
    if final.exists():
        return sha256
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=final.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temp, 0o444)
        os.replace(temp, final)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return sha256


# --- integrity: a stored file is served only while its bytes match the recorded hash -------

BLOCK = 1024 * 1024
TAMPERED_MESSAGE = ("该文件在存储中缺失、已被改动或损坏，与登记的校验值不符，不能查看或下载；"
                    "此事已记入审计日志，请联系系统管理员（可用 ltc evidence verify 检查全部文件）")


class FileTampered(DomainError):
    """A stored file that is missing or whose bytes no longer match its recorded SHA-256.
    Gone as far as the viewer is concerned (410); the code says which kind of file."""

    status_code = 410

    def __init__(self, code: str, sha256: str, problem: str,
                 object_type: str = "", object_id: object = None) -> None:
        super().__init__(code, TAMPERED_MESSAGE)
        self.sha256, self.problem = sha256, problem
        self.object_type, self.object_id = object_type, object_id


def sha256_of(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(BLOCK):
            hasher.update(block)
    return hasher.hexdigest()


def file_problem(path: Path, sha256: str, size: int | None = None) -> tuple[str, str] | None:
    """(kind, detail) when the file at `path` is missing or differs from `sha256` (and `size`,
    if recorded); None when it matches. Re-hashes every byte: see VerifiedFiles for serving."""
    try:
        actual_size = path.stat().st_size
    except FileNotFoundError:
        return "missing", "file not found / 文件缺失"
    if size is not None and actual_size != size:
        return "size_mismatch", (f"recorded {size} bytes, found {actual_size} / "
                                 f"记录 {size} 字节，实际 {actual_size} 字节")
    actual_hash = sha256_of(path)
    if actual_hash != sha256:
        return "hash_mismatch", f"content changed, SHA-256 is now {actual_hash} / 内容被改动"
    return None


class VerifiedFiles:
    """Which stored files were hashed and found intact, remembered by their inode's state.

    A player fetches a 2 GB video in dozens of Range requests; hashing it on each would take
    seconds each time. So a file whose hash matched is remembered with (device, inode, size,
    mtime_ns, ctime_ns), and while a stat() still gives the same five it is not hashed again.
    Any write, truncate, chmod, rename over it or replacement changes ctime (or the inode),
    and ctime cannot be set from user space (utime sets mtime and atime only), so every change
    made through the file system forgets the entry and the next request hashes again.

    File times tick coarsely (a few milliseconds): a change in the same tick as the last one
    could keep the ctime. So a file changed less than `settle_seconds` ago is not remembered;
    any change after that gets a later ctime.

    The limit: bytes changed beneath the file system (disk rot, a raw block device write, a
    network share's server) leave the stat unchanged; `ltc evidence verify`, which always
    re-hashes, is for those. Per process and in memory: a restart hashes each file once more.
    """

    MAX_ENTRIES = 10_000

    def __init__(self, settle_seconds: float = 2.0) -> None:
        self.settle_ns = int(settle_seconds * 1e9)
        self._intact: dict[str, tuple[int, int, int, int, int, str]] = {}
        # A player opens a video with several requests at once: one hashes, the others wait
        # for its verdict instead of reading the same gigabytes alongside it.
        self._hashing: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @staticmethod
    def _state(path: Path) -> tuple[int, int, int, int, int] | None:
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns

    def problem(self, path: Path, sha256: str, size: int | None = None) -> str | None:
        """None when intact; otherwise missing | size_mismatch | hash_mismatch. Blocking:
        call it in a worker thread."""
        with self._guard:
            lock = self._hashing.setdefault(str(path), threading.Lock())
        try:
            with lock:
                return self._check(path, sha256, size)
        finally:
            with self._guard:
                if not lock.locked():
                    self._hashing.pop(str(path), None)

    def _check(self, path: Path, sha256: str, size: int | None) -> str | None:
        before = self._state(path)
        if before is not None and self._intact.get(str(path)) == (*before, sha256):
            return None
        found = file_problem(path, sha256, size)
        if found is not None:
            self._intact.pop(str(path), None)
            return found[0]
        # Remember the state seen before hashing: a change made while hashing differs from it.
        settled = before is not None and time.time_ns() - before[4] > self.settle_ns
        if settled and self._state(path) == before:
            if len(self._intact) >= self.MAX_ENTRIES:
                self._intact.clear()
            self._intact[str(path)] = (*before, sha256)
        return None


VERIFIED = VerifiedFiles()  # one per process: the web app's, shared by every route


@dataclass(frozen=True)
class Source:
    """Where a context records the hashes of the documents it generated, for `ltc evidence
    verify`: rows of sha256's table with it set (and `where`, if given), named by `name`."""

    label: str  # 公示, 核定通知书, …
    sha256: Column
    name: Column
    suffix: str = ".pdf"
    where: Any = None


@dataclass(frozen=True)
class DocumentProblem:
    label: str
    name: str
    sha256: str
    path: Path
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind.upper()} {self.path}: {self.detail} ({self.label} {self.name})"


async def verify_sources(sources: list[Source], media_dir: Path,
                         page_size: int = 500) -> tuple[int, list[DocumentProblem]]:
    """(documents checked, problems): every recorded document re-hashed from disk, each
    source a page of rows at a time (keyset on the primary key)."""
    checked, problems = 0, []
    for source in sources:
        table = source.sha256._meta.table
        key = table._meta.primary_key
        after: Any = None
        while True:
            query = table.select(key.as_alias("key"), source.sha256.as_alias("sha256"),
                                 source.name.as_alias("name")).where(
                source.sha256.is_not_null())
            if source.where is not None:
                query = query.where(source.where)
            if after is not None:
                query = query.where(key > after)
            rows = await query.order_by(key).limit(page_size)
            for row in rows:
                path = path_for(row["sha256"], media_dir, source.suffix)
                found = await anyio.to_thread.run_sync(file_problem, path, row["sha256"])
                checked += 1
                if found is not None:
                    problems.append(DocumentProblem(source.label, str(row["name"]),
                                                    row["sha256"], path, *found))
            if len(rows) < page_size:
                break
            after = rows[-1]["key"]
    return checked, problems
