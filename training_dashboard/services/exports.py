"""Dataset export: a manifest (JSONL) plus audio, written to a temporary directory and
renamed into place, so a crash never leaves a half export registered.

Rows stream from the database in member order (never the whole dataset in memory); the
manifest is deterministic, so exporting a frozen dataset twice gives the same sha256.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.db.models import (
    Adapter,
    AudioSample,
    Dataset,
    DatasetExport,
    DatasetMember,
    Preference,
    Prompt,
    Rating,
    utcnow,
)
from training_dashboard.services.errors import BadRequest, NotFound
from training_dashboard.services.prompts import adapter_label

MANIFEST = "manifest.jsonl"
INFO = "td_export.json"
_locks: dict[tuple[int, str], threading.Lock] = {}
_locks_guard = threading.Lock()


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


def _supervised_rows(session: Session, dataset_id: int) -> Iterator[tuple[dict[str, Any], list[AudioSample]]]:
    stmt = (
        select(Rating, AudioSample, Prompt, Adapter)
        .join(DatasetMember, (DatasetMember.item_id == Rating.id) & (DatasetMember.dataset_id == dataset_id))
        .join(AudioSample, AudioSample.id == Rating.audio_id)
        .join(Prompt, Prompt.id == Rating.prompt_id)
        .outerjoin(Adapter, Adapter.id == AudioSample.adapter_id)
        .order_by(DatasetMember.item_id)
        .execution_options(yield_per=2000)
    )
    for rating, sample, prompt, adapter in session.execute(stmt):
        yield {
            "id": rating.id, "sample_id": sample.id, "prompt": prompt.text, "attributes": _attributes(prompt),
            "audio": f"audio/{sample.id}.wav", "rating": rating.rating,
            "criteria": {"musicality": rating.musicality, "coherence": rating.coherence,
                         "emotional_alignment": rating.emotional_alignment},
            "tags": list(rating.tags or []), "adapter": adapter_label(adapter, sample.adapter_id),
            "adapter_id": sample.adapter_id, "seed": sample.seed, "duration": sample.duration,
            "sample_rate": sample.sample_rate,
        }, [sample]


def _preference_rows(session: Session, dataset_id: int) -> Iterator[tuple[dict[str, Any], list[AudioSample]]]:
    chosen, rejected = aliased(AudioSample), aliased(AudioSample)
    ca, ra = aliased(Adapter), aliased(Adapter)
    stmt = (
        select(Preference, chosen, rejected, Prompt, ca, ra)
        .join(DatasetMember, (DatasetMember.item_id == Preference.id) & (DatasetMember.dataset_id == dataset_id))
        .join(chosen, chosen.id == Preference.chosen_id)
        .join(rejected, rejected.id == Preference.rejected_id)
        .join(Prompt, Prompt.id == Preference.prompt_id)
        .outerjoin(ca, ca.id == chosen.adapter_id)
        .outerjoin(ra, ra.id == rejected.adapter_id)
        .order_by(DatasetMember.item_id)
        .execution_options(yield_per=2000)
    )
    for pref, c, r, prompt, c_adapter, r_adapter in session.execute(stmt):
        yield {
            "id": pref.id, "prompt": prompt.text, "attributes": _attributes(prompt),
            "chosen": f"audio/{c.id}.wav", "rejected": f"audio/{r.id}.wav", "chosen_id": c.id, "rejected_id": r.id,
            "chosen_adapter": adapter_label(c_adapter, c.adapter_id),
            "rejected_adapter": adapter_label(r_adapter, r.adapter_id),
        }, [c, r]


def _attributes(prompt: Prompt) -> dict[str, Any]:
    return {"style": prompt.style, "tempo": prompt.tempo, "instruments": list(prompt.instruments or []),
            "mood": prompt.mood}


def _link(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:  # other filesystem, or links unsupported: copy instead
        shutil.copyfile(src, dst)


def _write_jsonl_export(db: Database, data_dir: Path, dataset: Dataset, tmp: Path) -> tuple[str, int]:
    """Write manifest + audio into ``tmp``; returns (manifest sha256, row count)."""
    audio_dir = tmp / "audio"
    audio_dir.mkdir(parents=True)
    digest, count, linked = hashlib.sha256(), 0, set()
    rows = _supervised_rows if dataset.type == "supervised" else _preference_rows
    with db.session() as session, open(tmp / MANIFEST, "wb") as manifest:
        for row, samples in rows(session, dataset.id or 0):
            for sample in samples:
                if sample.id in linked:
                    continue
                src = data_dir / sample.file_path
                if not src.is_file():
                    raise BadRequest(f"Audio file of clip {sample.id} is missing ({sample.file_path}); cannot export")
                _link(src, audio_dir / f"{sample.id}.wav")
                linked.add(sample.id)
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
                    out[col] = {"path": rel, "bytes": (tmp / rel).read_bytes()}
                    out[f"{col}_path"] = rel
                yield out

    cache = tmp / ".hf-cache"
    built = datasets.Dataset.from_generator(gen, cache_dir=str(cache))
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

    Raises:
        NotFound: unknown dataset.
        BadRequest: the dataset is empty, or an audio file is missing.
    """
    with db.session() as session:
        dataset = session.get(Dataset, dataset_id)
        if dataset is None:
            raise NotFound(f"Dataset {dataset_id} not found")
    if dataset.sample_count == 0:
        raise BadRequest(
            f"Dataset '{dataset.name}' is empty: nothing to export. Create one whose filter matches feedback."
        )
    with _lock_for(dataset_id, fmt):
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
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

        def record(session: Session) -> DatasetExport:
            export = session.scalar(
                select(DatasetExport).where(DatasetExport.dataset_id == dataset_id, DatasetExport.format == fmt)
            ) or DatasetExport(dataset_id=dataset_id, format=fmt, path="", manifest_sha256="", sample_count=0)
            export.path, export.manifest_sha256, export.sample_count = str(final), sha, count
            export.created_at = utcnow()
            session.add(export)
            return export

        return export_public(db.write(record), dataset)


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
    cleaned = 0
    for entry in sorted(exports_dir.iterdir()):
        if entry.name.startswith(".old-"):
            final = exports_dir / entry.name[len(".old-") + 32 + 1:]
            if not final.exists():
                entry.rename(final)
            else:
                shutil.rmtree(entry, ignore_errors=True)
            cleaned += 1
        elif entry.name.startswith(".tmp-"):
            shutil.rmtree(entry, ignore_errors=True)
            cleaned += 1
    return cleaned


def _lock_for(dataset_id: int, fmt: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault((dataset_id, fmt), threading.Lock())
