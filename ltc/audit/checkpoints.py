"""Signed checkpoints of the audit chain, kept as files outside the database.

A checkpoint is one JSON file in LTC_AUDIT_CHECKPOINT_DIR naming the chain head when it was
taken: the last event's seq and hash, the number of events, the time, and an Ed25519
signature over them. Whoever rewrites the log afterwards, even holding the database owner's
credentials and the chain key, must also change the event the checkpoint names — or delete
events after it — and `ltc audit verify` sees both; forging a checkpoint needs the signing
key. Files are named by seq, so the directory lists in chain order.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ltc import clock
from ltc.audit.rules import CHECKPOINT_FIELDS, canonical_time, checkpoint_message


@dataclass(frozen=True)
class Checkpoint:
    name: str  # the file name, how the operator finds it
    fields: dict[str, Any]  # seq, hash, count, at
    signature_valid: bool

    @property
    def seq(self) -> int:
        return self.fields["seq"]


def file_name(seq: int) -> str:
    return f"checkpoint-{seq:012d}.json"


def write(directory: Path, key: Ed25519PrivateKey, seq: int, event_hash: str,
          count: int) -> Path | None:
    """Sign the head (`seq`, `event_hash`, `count` events) into a new file; None when that
    head has a checkpoint already (the job may be delivered twice). Written to a temporary
    file and renamed, so a reader never sees half a checkpoint."""
    path = directory / file_name(seq)
    if path.exists():
        return None
    fields = {"seq": seq, "hash": event_hash, "count": count, "at": canonical_time(clock.now())}
    signature = base64.b64encode(key.sign(checkpoint_message(fields))).decode()
    directory.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=directory, suffix=".part")
    with os.fdopen(fd, "w") as file:
        json.dump({**fields, "signature": signature}, file, indent=1)
        file.flush()
        os.fsync(file.fileno())
    os.chmod(temp, 0o644)
    os.replace(temp, path)
    return path


def read_all(directory: Path, key: Ed25519PublicKey) -> list[Checkpoint]:
    """Every checkpoint in seq order, each with whether its signature holds. A file that is
    not a checkpoint at all (damaged, hand-edited) counts as one with a bad signature."""
    found = []
    for path in sorted(directory.glob("checkpoint-*.json")) if directory.exists() else []:
        try:
            data = json.loads(path.read_text())
            fields = {field: data[field] for field in CHECKPOINT_FIELDS}
            key.verify(base64.b64decode(data["signature"]), checkpoint_message(fields))
            valid = isinstance(fields["seq"], int) and isinstance(fields["count"], int)
        except (ValueError, KeyError, TypeError, InvalidSignature):
            fields, valid = {"seq": _seq_of(path.name), "hash": "", "count": -1, "at": ""}, False
        found.append(Checkpoint(path.name, fields, valid))
    return sorted(found, key=lambda c: c.seq)


def latest(directory: Path) -> dict[str, Any] | None:
    """The newest checkpoint's fields (seq, hash, count, at as a datetime), unverified: for
    display; `ltc audit verify` is what checks it."""
    paths = sorted(directory.glob("checkpoint-*.json")) if directory.exists() else []
    for path in reversed(paths):
        try:
            data = json.loads(path.read_text())
            return {**{f: data[f] for f in CHECKPOINT_FIELDS},
                    "at": datetime.fromisoformat(data["at"])}
        except (ValueError, KeyError, TypeError):
            continue
    return None


def _seq_of(name: str) -> int:
    digits = name.removeprefix("checkpoint-").removesuffix(".json")
    return int(digits) if digits.isdigit() else 0
