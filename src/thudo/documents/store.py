"""Where files live: a directory by default, behind a small interface (S3-style stores
plug in by implementing it). Files are content-addressed, so a stored file never changes."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol


class FileStore(Protocol):
    def put(self, data: bytes) -> str:
        """Store bytes; returns their key (the SHA-256 of the content)."""

    def get(self, key: str) -> bytes:
        """The bytes under a key; KeyError if there are none."""


class DirectoryStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if len(key) != 64 or not all(c in "0123456789abcdef" for c in key):
            raise KeyError(key)
        return self.root / key[:2] / key[2:4] / key

    def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        path = self._path(key)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # Written aside then renamed: a reader never sees half a file.
            fd, tmp = tempfile.mkstemp(dir=path.parent)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        return key

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise KeyError(key) from None


def default_store(data_dir: Path) -> DirectoryStore:
    return DirectoryStore(data_dir / "files")
