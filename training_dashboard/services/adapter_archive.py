"""The adapter archive a worker downloads: the files PEFT needs, and a key that follows them.

A worker caches each adapter under its id and key; the key (from the files' sizes and
modification times) changes whenever the adapter is saved again, so a stale copy is never used.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile
import tempfile
from pathlib import Path

from training_dashboard.db import Database
from training_dashboard.db.models import Adapter
from training_dashboard.services.errors import Conflict, NotFound

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")  # what PEFT needs to load a LoRA


def adapter_archive(db: Database, adapter_id: int) -> tuple[Path, str]:
    """A tar of the files an adapter needs, in a temporary file the caller deletes, and its key.

    Inactive adapters too (evaluations generate with candidates before activation).

    Raises:
        NotFound: unknown adapter.
        Conflict: its files are missing or unreadable on the app.
    """
    with db.session() as session:
        adapter = session.get(Adapter, adapter_id)
        if adapter is None:
            raise NotFound(f"Adapter {adapter_id} not found")
        directory, label = Path(adapter.path), f"Adapter '{adapter.name}' {adapter.version}"
    fd, tmp = tempfile.mkstemp(prefix="td-adapter-", suffix=".tar")
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, tarfile.open(fileobj=out, mode="w") as tar:
            for name in ADAPTER_FILES:
                try:
                    if not stat.S_ISREG(os.stat(directory / name).st_mode):  # never open a FIFO (it would block)
                        raise Conflict(f"{label}: {name} in {directory} is not a regular file")
                    with open(directory / name, "rb") as fh:
                        info = os.fstat(fh.fileno())
                        member = tarfile.TarInfo(name)
                        member.size, member.mode, member.mtime = info.st_size, 0o644, int(info.st_mtime)
                        tar.addfile(member, fh)
                        digest.update(_stat_token(name, info))
                except OSError as exc:
                    raise Conflict(f"{label}: {name} cannot be read on the app ({directory}): "
                                   f"{exc.strerror or exc}") from exc
    except BaseException:
        os.unlink(tmp)
        raise
    return Path(tmp), digest.hexdigest()[:32]


def adapter_key(directory: Path) -> str:
    """The key :func:`adapter_archive` sends for ``directory`` (changes when its files are re-saved)."""
    digest = hashlib.sha256()
    for name in ADAPTER_FILES:
        digest.update(_stat_token(name, os.stat(directory / name)))
    return digest.hexdigest()[:32]


def _stat_token(name: str, info: os.stat_result) -> bytes:
    return f"{name}:{info.st_size}:{info.st_mtime_ns};".encode()
