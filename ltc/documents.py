"""Rendered documents (notices, decision letters, statements): content-addressed files under
LTC_MEDIA_DIR/documents, named by their SHA-256, written atomically. Rendering the same
document again gives the same bytes, hence the same name: storing it twice is a no-op.
(Rendering one and recording it on its row, audited: ltc.audit.documents.)"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

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
