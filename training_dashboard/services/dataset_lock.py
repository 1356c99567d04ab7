"""One lock per dataset, held by an export and by a delete, so the two never interleave.

It is an ``flock`` on a small file under the exports directory: it excludes threads of one
process (each acquisition opens its own file description) and every process sharing the data
dir, and the kernel drops it when a process dies, so a crash never leaves a stale lock. The
holder removes the file as it lets go (no file per dataset piles up); a waiter then notices
that the path no longer names the inode it locked and retries on a fresh file, so removal never
lets two holders in.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from training_dashboard.services.errors import Conflict

LOCK_DIR = ".locks"


@contextmanager
def dataset_lock(exports_dir: Path, dataset_id: int, timeout: float, busy: str) -> Iterator[None]:
    """Hold dataset ``dataset_id``'s lock for the block, waiting at most ``timeout`` seconds.

    Raises:
        Conflict: with the message ``busy`` when the lock stays taken for ``timeout`` seconds.
    """
    directory = exports_dir / LOCK_DIR
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{dataset_id}.lock"
    fd = _acquire(path, timeout, busy)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)  # while still held: see the module docstring
        os.close(fd)  # closing the descriptor releases the flock


def _acquire(path: Path, timeout: float, busy: str) -> int:
    deadline, pause = time.monotonic() + timeout, 0.01
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() >= deadline:
                raise Conflict(busy) from None
            time.sleep(pause)
            pause = min(pause * 2, 0.2)
            continue
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the previous holder removed the file after we opened it: lock the new one
