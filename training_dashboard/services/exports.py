"""Dataset export: a manifest (JSONL) plus audio, written to a temporary directory and
renamed into place, so a crash never leaves a half export registered.

Rows stream from the database in member order (never the whole dataset in memory); the
manifest is deterministic, so exporting a frozen dataset twice gives the same sha256.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import shlex
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.db.models import Dataset, DatasetExport, utcnow
from training_dashboard.services.dataset_lock import dataset_lock
from training_dashboard.services.errors import BadRequest, NotFound, ServiceError
from training_dashboard.services.export_rows import manifest_rows

MANIFEST = "manifest.jsonl"
ACTIVE_LOCK = ".exporting.lock"
INFO = "td_export.json"
# How long an export waits for another export of the same dataset before answering 409.
EXPORT_WAIT_S = 600.0


class InsufficientStorage(ServiceError):
    """The disk, not the request: 507."""

    status_code = 507


def export_public(export: DatasetExport, dataset: Dataset) -> schemas.ExportPublic:
    return schemas.ExportPublic(
        dataset_id=export.dataset_id, format=export.format,  # type: ignore[arg-type]
        export_path=export.path, sample_count=export.sample_count, manifest_sha256=export.manifest_sha256,
        train_command=train_command(dataset, export.path), created_at=export.created_at,
    )


def train_command(dataset: Dataset, export_path: str) -> str:
    """The exact training CLI invocation for an export."""
    task = "sft" if dataset.type == "supervised" else "dpo"
    name = schemas.slugify(f"{dataset.name}-{task}")
    return f"python -m training_dashboard.training {task} --data {shlex.quote(export_path)} --name {shlex.quote(name)}"


def _link(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except FileNotFoundError:
        raise
    except OSError:  # other filesystem, or links unsupported: copy instead
        shutil.copyfile(src, dst)


def _write_jsonl_export(db: Database, data_dir: Path, dataset: Dataset, tmp: Path) -> tuple[str, int]:
    """Write manifest + audio into ``tmp``; returns (manifest sha256, row count)."""
    audio_dir = tmp / "audio"
    audio_dir.mkdir(parents=True)
    # Plain strings and no separate existence check: pathlib objects and a stat per clip
    # cost as much as the links themselves (100k clips).
    root, audio = str(data_dir), str(audio_dir)
    digest, count, linked = hashlib.sha256(), 0, set()
    with db.session() as session, open(tmp / MANIFEST, "wb") as manifest:
        for row, samples in manifest_rows(session, dataset):
            for sample_id, file_path in samples:
                if sample_id in linked:
                    continue
                try:
                    _link(os.path.join(root, file_path), f"{audio}/{sample_id}.wav")
                except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
                    raise BadRequest(
                        f"Audio file of clip {sample_id} is missing ({file_path}); cannot export") from exc
                except OSError as exc:
                    if exc.errno in (errno.ENOSPC, errno.EDQUOT) or exc.filename != os.path.join(root, file_path):
                        raise
                    raise BadRequest(f"Audio file of clip {sample_id} cannot be read ({file_path}: "
                                     f"{exc.strerror}); cannot export") from exc
                linked.add(sample_id)
            line = (json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n").encode()
            digest.update(line)
            manifest.write(line)
            count += 1
        manifest.flush()
        os.fsync(manifest.fileno())
    return digest.hexdigest(), count


def _write_hf_export(tmp: Path, dataset: Dataset) -> None:
    """Turn a JSONL export in ``tmp`` into a ``datasets.load_from_disk`` directory in place."""
    import datasets  # heavy import: only when this format is asked for

    columns = ["audio"] if dataset.type == "supervised" else ["chosen", "rejected"]

    def gen() -> Iterator[dict[str, Any]]:
        with open(tmp / MANIFEST, encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                out = {k: json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v for k, v in row.items()}
                for col in columns:
                    rel = row[col]
                    try:
                        audio = (tmp / rel).read_bytes()
                    except OSError as exc:
                        raise BadRequest(f"Audio file of clip {rel} cannot be read ({exc.strerror}); "
                                         "cannot export") from exc
                    out[col] = {"path": rel, "bytes": audio}
                    out[f"{col}_path"] = rel
                yield out

    cache = tmp / ".hf-cache"
    try:
        built = datasets.Dataset.from_generator(gen, cache_dir=str(cache))
    except datasets.exceptions.DatasetGenerationError as exc:
        if isinstance(exc.__cause__, BadRequest):  # the library wraps what our generator raised
            raise exc.__cause__ from None
        raise
    for col in columns:
        built = built.cast_column(col, datasets.Audio(decode=False))
    built.save_to_disk(str(tmp / "hf"))
    built.cleanup_cache_files()
    del built
    shutil.rmtree(cache, ignore_errors=True)
    # The HF files sit at the top of the export dir so load_from_disk(export_path) works.
    for item in (tmp / "hf").iterdir():
        item.rename(tmp / item.name)
    (tmp / "hf").rmdir()


def export_dataset(db: Database, data_dir: Path, exports_dir: Path, base_model: str, dataset_id: int,
                   fmt: str) -> schemas.ExportPublic:
    """Export a frozen dataset; replaces an earlier export of the same format atomically.

    Holds the dataset's lock throughout, so a delete of the same dataset waits for it (or a
    second export of it runs after it); an export that starts after a delete finds no dataset.

    Raises:
        NotFound: unknown dataset (or deleted before this export could start).
        BadRequest: the dataset is empty, or an audio file is missing or unreadable.
        Conflict: another export of this dataset kept it busy for ``EXPORT_WAIT_S`` seconds.
    """
    _find(db, dataset_id)  # a cheap 404 before touching the lock directory
    busy = f"Dataset {dataset_id} is being exported by another request; try again when that export finishes"
    with dataset_lock(exports_dir, dataset_id, EXPORT_WAIT_S, busy), _exporting(exports_dir):
        dataset = _find(db, dataset_id)
        if dataset.sample_count == 0:
            raise BadRequest(
                f"Dataset '{dataset.name}' is empty: nothing to export. Create one whose filter matches feedback."
            )
        final = exports_dir / f"{dataset_id}-{schemas.slugify(dataset.name)}-{fmt}"
        tmp = exports_dir / f".tmp-{uuid.uuid4().hex}"
        try:
            sha, count = _write_jsonl_export(db, data_dir, dataset, tmp)
            if fmt == "huggingface":
                _write_hf_export(tmp, dataset)
            info = {"dataset_id": dataset_id, "dataset_name": dataset.name, "type": dataset.type, "format": fmt,
                    "manifest_sha256": sha, "sample_count": count, "base_model": base_model}
            (tmp / INFO).write_text(json.dumps(info, indent=2, sort_keys=True))
            _swap_into_place(tmp, final)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise InsufficientStorage(f"Export failed: no space left under {exports_dir}") from exc
            raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

        def record(session: Session) -> DatasetExport:
            # FOR UPDATE (PostgreSQL) holds off a delete that does not take our file lock, e.g.
            # from a server with another data dir; SQLite's write transaction is exclusive anyway.
            if session.scalar(select(Dataset.id).where(Dataset.id == dataset_id).with_for_update()) is None:
                raise NotFound(f"Dataset {dataset_id} was deleted while it was being exported")
            export = session.scalar(
                select(DatasetExport).where(DatasetExport.dataset_id == dataset_id, DatasetExport.format == fmt)
            ) or DatasetExport(dataset_id=dataset_id, format=fmt, path="", manifest_sha256="", sample_count=0)
            export.path, export.manifest_sha256, export.sample_count = str(final), sha, count
            export.created_at = utcnow()
            session.add(export)
            return export

        try:
            return export_public(db.write(record), dataset)
        except (NotFound, IntegrityError) as exc:
            shutil.rmtree(final, ignore_errors=True)
            raise NotFound(f"Dataset {dataset_id} was deleted while it was being exported") from exc


@contextmanager
def exports_set_aside(exports_dir: Path, dataset_id: int, recorded: list[str]) -> Iterator[None]:
    """Move every export directory of a dataset aside for the block, then delete them; put them
    back if the block raises. Call it holding the dataset's lock.

    Covers the recorded paths and any ``<id>-*`` directory or swapped-out ``.old-*`` copy an
    interrupted export left. The aside names are ``.tmp-*``, which start-up recovery deletes, so
    a crash part-way leaves no directory of a deleted dataset; the shared export lock keeps that
    recovery (in another process) off them while this runs.
    """
    found = {p for p in exports_dir.glob(f"{dataset_id}-*") if p.is_dir()}
    found |= {p for p in exports_dir.glob(f".old-*-{dataset_id}-*") if _old_of(p.name).startswith(f"{dataset_id}-")}
    found |= {Path(p) for p in recorded if Path(p).parent == exports_dir and Path(p).is_dir()}
    with _exporting(exports_dir):
        moved = []
        for path in sorted(found):
            aside = exports_dir / f".tmp-{uuid.uuid4().hex}"
            path.rename(aside)
            moved.append((path, aside))
        try:
            yield
        except NotFound:  # the dataset is gone anyway (deleted elsewhere): so are its exports
            _remove(moved)
            raise
        except BaseException:
            for path, aside in moved:
                aside.rename(path)
            raise
    _remove(moved)


def _remove(moved: list[tuple[Path, Path]]) -> None:
    for _, aside in moved:
        shutil.rmtree(aside, ignore_errors=True)


def _old_of(name: str) -> str:
    """The export name a ``.old-<32 hex>-<name>`` directory was swapped out from."""
    return name[len(".old-") + 32 + 1:]


def _find(db: Database, dataset_id: int) -> Dataset:
    with db.session() as session:
        dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        raise NotFound(f"Dataset {dataset_id} not found")
    return dataset


def _swap_into_place(tmp: Path, final: Path) -> None:
    old = final.parent / f".old-{uuid.uuid4().hex}-{final.name}"
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def recover_exports(exports_dir: Path) -> int:
    """After a crash: restore a swapped-out export whose replacement never landed, then
    delete temporary and superseded directories. Returns how many entries were cleaned."""
    if not exports_dir.is_dir():
        return 0
    with open(exports_dir / ACTIVE_LOCK, "a+") as lock:
        try:  # another live process (same data dir) is exporting: its temp dirs are not debris
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0
        try:
            return _clean(exports_dir)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextmanager
def _exporting(exports_dir: Path) -> Iterator[None]:
    """Hold a shared lock while exporting; the kernel drops it if the process dies."""
    exports_dir.mkdir(parents=True, exist_ok=True)
    with open(exports_dir / ACTIVE_LOCK, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _clean(exports_dir: Path) -> int:
    cleaned = 0
    for entry in sorted(exports_dir.iterdir()):
        if entry.name.startswith(".old-"):
            final = exports_dir / _old_of(entry.name)
            if not final.exists():
                entry.rename(final)
            else:
                shutil.rmtree(entry, ignore_errors=True)
            cleaned += 1
        elif entry.name.startswith(".tmp-"):
            shutil.rmtree(entry, ignore_errors=True)
            cleaned += 1
    return cleaned

