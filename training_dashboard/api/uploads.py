"""Worker uploads (clips, checkpoints, run results): a request body streamed to a scratch file,
with a size limit and the disk's errors answered as 507 rather than a 500."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import HTTPException, Request

from training_dashboard.services.paths import os_error_reason


def scratch_file(make: Callable[[], Path], what: str) -> Path:
    """``make()`` a scratch path for an upload of ``what``; a disk that refuses it is a 507."""
    try:
        return make()
    except OSError as exc:
        raise HTTPException(507, f"The app cannot store {what}: {os_error_reason(exc)}") from exc


async def receive_to_file(request: Request, dest: Path, limit: int, too_large: str, what: str) -> int:
    """Write the request body to ``dest`` (413 past ``limit`` bytes, 507 when the disk fails). Returns its size."""
    size = 0
    try:
        with dest.open("wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise HTTPException(413, too_large)
                out.write(chunk)
    except OSError as exc:
        raise HTTPException(507, f"The app could not store {what}: {os_error_reason(exc)}") from exc
    return size
