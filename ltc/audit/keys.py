"""The audit log's secrets, kept in files outside the database (README "Security for
operators"): the chain key (32 random bytes, hex; the HMAC key of every KEYED event) and the
Ed25519 key pair that signs checkpoints (private key PKCS#8 PEM, public key PEM beside it).

Secret files are created with mode 0600 and never overwritten. On the embedded (SQLite)
install the chain key is made on first use, so a newcomer's demo just works; in production
`ltc audit init-keys` makes all three once, and a process without the chain key refuses to
start instead of writing events nobody could verify.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ltc.settings import Settings, SettingsError, audit_key_path, is_embedded

_chain_keys: dict[Path, bytes] = {}


def _write_secret(path: Path, data: bytes, mode: int = 0o600) -> bool:
    """Write `data` to a new file; False (and nothing written) when it already exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    return True


def read_chain_key(path: Path) -> bytes | None:
    if not path.exists():
        return None
    key = bytes.fromhex(path.read_text().strip())
    if len(key) < 32:
        raise SettingsError("LTC_AUDIT_KEY_FILE", f"{path} holds fewer than 32 key bytes")
    return key


def chain_key() -> bytes:
    """The chain key of this process (LTC_AUDIT_KEY_FILE), read once per path."""
    path = audit_key_path(os.environ)
    if (key := _chain_keys.get(path)) is None:
        if is_embedded(os.environ):
            _write_secret(path, secrets.token_hex(32).encode())
        key = read_chain_key(path)
        if key is None:
            raise SettingsError("LTC_AUDIT_KEY_FILE", f"{path} does not exist; create the "
                                "audit keys once with `ltc audit init-keys` (README "
                                "\"Security for operators\")")
        _chain_keys[path] = key
    return key


def init_keys(settings: Settings) -> list[Path]:
    """Create whichever of the chain key and the signing key pair is missing; returns the
    files created. Existing keys are kept: replacing one would orphan the events and
    checkpoints made with it."""
    created = []
    if _write_secret(settings.audit_key_file, secrets.token_hex(32).encode()):
        created.append(settings.audit_key_file)
    private = Ed25519PrivateKey.generate()
    if _write_secret(settings.audit_signing_key_file, private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())):
        created.append(settings.audit_signing_key_file)
    else:
        private = signing_key(settings)
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    if _write_secret(settings.audit_public_key_file, public, 0o644):
        created.append(settings.audit_public_key_file)
    return created


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    path = settings.audit_signing_key_file
    if not path.exists():
        raise SettingsError("LTC_AUDIT_SIGNING_KEY_FILE", f"{path} does not exist; create "
                            "it with `ltc audit init-keys`")
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise SettingsError("LTC_AUDIT_SIGNING_KEY_FILE", f"{path} is not an Ed25519 key")
    return key


def public_key(settings: Settings) -> Ed25519PublicKey | None:
    path = settings.audit_public_key_file
    if not path.exists():
        return None
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise SettingsError("LTC_AUDIT_PUBLIC_KEY_FILE", f"{path} is not an Ed25519 key")
    return key
