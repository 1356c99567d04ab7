from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path as FsPath
from typing import Annotated, BinaryIO

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlalchemy import select

from training_dashboard import schemas
from training_dashboard.api import blinding
from training_dashboard.api.deps import DbDep, LimitQ, PageQ, RaterDep, SettingsDep, signed_or_role
from training_dashboard.db.models import Adapter, AudioSample, Prompt
from training_dashboard.schemas import MAX_ID
from training_dashboard.services import history
from training_dashboard.services.errors import Forbidden, NotFound
from training_dashboard.services.paths import os_error_reason, shown
from training_dashboard.services.prompts import audio_brief, prompt_public
from training_dashboard.services.queue import adapter_filter

router = APIRouter(prefix="/audio", tags=["audio"])
IdPath = Path(ge=1, le=MAX_ID)
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CHUNK = 64 * 1024


@router.get("", response_model=schemas.Page[schemas.AudioListItem])
def read_audio_list(
    request: Request, db: DbDep, principal: RaterDep, page: PageQ = 1, limit: LimitQ = 50,
    prompt_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    adapter_id: Annotated[str | None, Query(max_length=20, description="an adapter id or 'base'")] = None,
    rated_by: Annotated[int | None, Query(ge=1, le=MAX_ID, description="clips this rater has rated")] = None,
    not_rated_by: Annotated[int | None, Query(ge=1, le=MAX_ID, description="clips this rater has not rated")] = None,
) -> schemas.Page[schemas.AudioListItem]:
    """Clips newest first, by prompt, adapter, and who has (not) rated them (a rater: filtering by adapter
    needs the trainer role, and adapters show only on clips they have rated)."""
    if adapter_id is not None and blinding.blind_rater(principal) is not None:
        raise Forbidden("needs the trainer role (to filter clips by adapter)")
    result = history.list_audio(db, prompt_id=prompt_id, adapter_id=adapter_filter(adapter_id), rated_by=rated_by,
                                not_rated_by=not_rated_by, page=page, limit=limit,
                                stream_url=request.app.state.signer.url)
    return result.model_copy(update={"items": blinding.briefs(db, principal, result.items)})


@router.get("/{audio_id}", response_model=schemas.AudioPublic)
def read_audio(request: Request, db: DbDep, principal: RaterDep, audio_id: int = IdPath) -> schemas.AudioPublic:
    """A clip's metadata with its prompt and adapter."""
    with db.session() as session:
        row = session.execute(
            select(AudioSample, Prompt, Adapter).join(Prompt, Prompt.id == AudioSample.prompt_id)
            .outerjoin(Adapter, Adapter.id == AudioSample.adapter_id).where(AudioSample.id == audio_id)
        ).first()
    if row is None:
        raise NotFound(f"Audio {audio_id} not found")
    sample, prompt, adapter = row
    return blinding.audio(db, principal, schemas.AudioPublic(
        **audio_brief(sample, adapter, request.app.state.signer.url).model_dump(), prompt=prompt_public(prompt),
        adapter=schemas.AdapterBrief(id=adapter.id, name=adapter.name, version=adapter.version) if adapter else None,
        params=sample.params, rating_count=sample.rating_count,
    ))


def _open_clip(db, settings, audio_id: int) -> tuple[BinaryIO, int]:  # type: ignore[no-untyped-def]
    """The clip's file, opened (so it cannot vanish between the checks and the first byte), and
    its size. Missing, outside the data dir, not a regular file, or unreadable: 404 saying which."""
    with db.session() as session:
        rel = session.scalar(select(AudioSample.file_path).where(AudioSample.id == audio_id))
    if rel is None:
        raise NotFound(f"Audio {audio_id} not found")
    data_dir = settings.resolved_data_dir
    try:
        path = FsPath(os.path.realpath(data_dir / rel))
    except (OSError, ValueError) as exc:
        raise NotFound(f"The audio file of clip {audio_id} has an unusable path {shown(rel)}: {exc}") from exc
    if not path.is_relative_to(data_dir):
        raise NotFound(f"The audio file of clip {audio_id} is missing from the data directory")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # non-blocking: a FIFO must not hang us
    except FileNotFoundError:
        raise NotFound(f"The audio file of clip {audio_id} is missing from the data directory") from None
    except OSError as exc:
        raise NotFound(f"The audio file of clip {audio_id} cannot be read: {os_error_reason(exc, path)}") from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise NotFound(f"The audio file of clip {audio_id} is not a regular file")
    return os.fdopen(fd, "rb"), info.st_size  # closed by _read when the response ends


def _read(fh: BinaryIO, start: int, length: int) -> Iterator[bytes]:
    with fh:
        fh.seek(start)
        while length > 0:
            chunk = fh.read(min(_CHUNK, length))
            if not chunk:
                break
            length -= len(chunk)
            yield chunk


@router.get("/{audio_id}/stream", response_class=Response,
            responses={200: {"content": {"audio/wav": {}}}, 206: {"content": {"audio/wav": {}}}},
            dependencies=[Depends(signed_or_role("rater"))])
def stream_audio(db: DbDep, settings: SettingsDep, audio_id: int = IdPath,
                 range_header: str | None = Header(default=None, alias="Range")) -> Response:
    """The clip as WAV, with HTTP Range support (206 + Content-Range) for seeking."""
    fh, size = _open_clip(db, settings, audio_id)
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=3600"}
    if not range_header:
        headers["Content-Length"] = str(size)
        return StreamingResponse(_read(fh, 0, size), media_type="audio/wav", headers=headers)
    match = _RANGE.match(range_header.split(",")[0].strip())
    start: int | None = None
    if match and (match.group(1) or match.group(2)):
        first, last = match.group(1), match.group(2)
        if first:
            start, end = int(first), min(int(last), size - 1) if last else size - 1
        else:  # suffix range: the last N bytes
            start, end = max(0, size - int(last)), size - 1
        if start > end or start >= size:
            start = None
    if start is None:
        fh.close()
        return JSONResponse(status_code=416, headers={"Content-Range": f"bytes */{size}", **headers},
                            content={"detail": f"Range {range_header!r} not satisfiable for {size} bytes"})
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    return StreamingResponse(_read(fh, start, end - start + 1), status_code=206, media_type="audio/wav",
                             headers=headers)
