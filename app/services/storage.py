"""Private file storage for uploads (evidence documents), outside the static folder.

Files are stored under STORAGE_DIR by a random key; the original name is kept only in
the database, for display. Several app servers must share STORAGE_DIR (a network
volume), as they share the database.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from flask import current_app


def _root() -> Path:
    return Path(current_app.config["STORAGE_DIR"])


def path_for(key: str) -> Path:
    """The file behind a key; keys are generated here, but check them anyway."""
    if not key or ".." in key or key.startswith("/") or not all(
            c.isalnum() or c in "-_/" for c in key):
        raise ValueError("invalid storage key")
    return _root() / key


def save(data: bytes, prefix: str) -> tuple[str, str]:
    """Store bytes under a new random key; returns (key, sha256)."""
    key = f"{prefix}/{secrets.token_hex(2)}/{secrets.token_urlsafe(24)}"
    target = path_for(key)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".part")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(target)
    return key, hashlib.sha256(data).hexdigest()


def read(key: str) -> bytes:
    return path_for(key).read_bytes()


def exists(key: str) -> bool:
    try:
        return path_for(key).is_file()
    except ValueError:
        return False
