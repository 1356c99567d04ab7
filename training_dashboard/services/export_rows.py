"""The rows of an export manifest: one query per dataset kind, streamed in member order.

Plain columns, not ORM entities, and ``yield_per`` so that a dataset of any size never sits in
memory; each row comes with the clips it names as (sample id, file path).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from training_dashboard.db.models import Adapter, AudioSample, Dataset, DatasetMember, Preference, Prompt, Rating
from training_dashboard.services.counters import adapter_label

Rows = Iterator[tuple[dict[str, Any], list[tuple[int, str]]]]
_PROMPT_COLUMNS = (Prompt.text, Prompt.style, Prompt.tempo, Prompt.instruments, Prompt.mood)


def manifest_rows(session: Session, dataset: Dataset) -> Rows:
    """The manifest rows of a frozen dataset, each with the clips it names, in member order."""
    if dataset.type != "supervised":
        return _preference_rows(session, dataset.id or 0)
    if dataset.filter.get("aggregate") == "clip":
        return _clip_rows(session, dataset.id or 0)
    return _supervised_rows(session, dataset.id or 0)


def _members(dataset_id: int, item: Any, *columns: Any) -> Select[Any]:
    """``columns`` over a dataset's member items (Rating or Preference rows) and their prompts."""
    return (
        select(*columns)
        .select_from(DatasetMember)
        .join(item, item.id == DatasetMember.item_id)
        .join(Prompt, Prompt.id == item.prompt_id)
        .where(DatasetMember.dataset_id == dataset_id)
        .order_by(DatasetMember.item_id)
    )


def _supervised_rows(session: Session, dataset_id: int) -> Rows:
    # Plain columns, not ORM entities: building four SQLModel objects per row (and decoding
    # JSON columns the manifest never uses) cost ~5x the rest of the export.
    stmt = (
        _members(dataset_id, Rating,
                 Rating.id, Rating.rating, Rating.musicality, Rating.coherence, Rating.emotional_alignment, Rating.tags,
                 AudioSample.id, AudioSample.file_path, AudioSample.adapter_id, AudioSample.seed, AudioSample.duration,
                 AudioSample.sample_rate, *_PROMPT_COLUMNS, Adapter.name, Adapter.version)
        .join(AudioSample, AudioSample.id == Rating.audio_id)
        .outerjoin(Adapter, Adapter.id == AudioSample.adapter_id)
    )
    for (rid, rating, musicality, coherence, emotional, tags, sid, path, adapter_id, seed, duration, rate,
         text, style, tempo, instruments, mood, a_name, a_version) in _stream(session, stmt):
        yield {
            "id": rid, "sample_id": sid, "prompt": text, "attributes": _attrs(style, tempo, instruments, mood),
            "audio": f"audio/{sid}.wav", "rating": rating,
            "criteria": {"musicality": musicality, "coherence": coherence, "emotional_alignment": emotional},
            "tags": list(tags or []), "adapter": adapter_label(adapter_id, a_name, a_version),
            "adapter_id": adapter_id, "seed": seed, "duration": duration, "sample_rate": rate,
        }, [(sid, path)]


def _preference_rows(session: Session, dataset_id: int) -> Rows:
    chosen, rejected = aliased(AudioSample), aliased(AudioSample)
    ca, ra = aliased(Adapter), aliased(Adapter)
    stmt = (
        _members(dataset_id, Preference,
                 Preference.id, chosen.id, chosen.file_path, chosen.adapter_id, rejected.id, rejected.file_path,
                 rejected.adapter_id, *_PROMPT_COLUMNS, ca.name, ca.version, ra.name, ra.version, Preference.reason)
        .join(chosen, chosen.id == Preference.chosen_id)
        .join(rejected, rejected.id == Preference.rejected_id)
        .outerjoin(ca, ca.id == chosen.adapter_id)
        .outerjoin(ra, ra.id == rejected.adapter_id)
    )
    for (pid, cid, cpath, cad, rid, rpath, rad, text, style, tempo, instruments, mood,
         c_name, c_version, r_name, r_version, reason) in _stream(session, stmt):
        yield {
            "id": pid, "prompt": text, "attributes": _attrs(style, tempo, instruments, mood),
            "chosen": f"audio/{cid}.wav", "rejected": f"audio/{rid}.wav", "chosen_id": cid, "rejected_id": rid,
            "chosen_adapter": adapter_label(cad, c_name, c_version),
            "rejected_adapter": adapter_label(rad, r_name, r_version), "reason": reason or "",
        }, [(cid, cpath), (rid, rpath)]


def _clip_rows(session: Session, dataset_id: int) -> Rows:
    """One row per clip (``aggregate="clip"``): the mean and count of its frozen member ratings."""
    per_clip = (
        select(Rating.audio_id.label("audio_id"), func.sum(Rating.rating).label("total"),
               func.count().label("n"))
        .join(DatasetMember, (DatasetMember.item_id == Rating.id) & (DatasetMember.dataset_id == dataset_id))
        .group_by(Rating.audio_id).subquery()
    )
    stmt = (
        select(per_clip.c.audio_id, per_clip.c.total, per_clip.c.n, AudioSample.file_path, AudioSample.adapter_id,
               AudioSample.seed, AudioSample.duration, AudioSample.sample_rate, *_PROMPT_COLUMNS, Adapter.name,
               Adapter.version)
        .join(AudioSample, AudioSample.id == per_clip.c.audio_id)
        .join(Prompt, Prompt.id == AudioSample.prompt_id)
        .outerjoin(Adapter, Adapter.id == AudioSample.adapter_id)
        .order_by(per_clip.c.audio_id)
    )
    for (sid, total, n, path, adapter_id, seed, duration, rate, text, style, tempo, instruments, mood,
         a_name, a_version) in _stream(session, stmt):
        yield {
            "id": sid, "sample_id": sid, "prompt": text, "attributes": _attrs(style, tempo, instruments, mood),
            "audio": f"audio/{sid}.wav", "rating": round(total / n, 4), "rating_count": n,
            "adapter": adapter_label(adapter_id, a_name, a_version), "adapter_id": adapter_id, "seed": seed,
            "duration": duration, "sample_rate": rate,
        }, [(sid, path)]


def _stream(session: Session, stmt):  # type: ignore[no-untyped-def]
    return session.connection().execution_options(yield_per=5000).execute(stmt)


def _attrs(style: str | None, tempo: int | None, instruments: list[str] | None, mood: str | None) -> dict[str, Any]:
    return {"style": style, "tempo": tempo, "instruments": list(instruments or []), "mood": mood}
