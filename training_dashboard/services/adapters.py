"""The adapter registry: registration with path confinement and a weight check, listing,
usage statistics, activation and deletion."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.db.models import Adapter, AudioSample, Dataset, GenerationJob, Preference, utcnow
from training_dashboard.services.counters import read_counters
from training_dashboard.services.errors import BadRequest, Conflict, NotFound
from training_dashboard.services.evaluation_gate import latest_verdicts
from training_dashboard.services.paths import os_error_reason, shown


def confine_path(raw: str, roots: list[Path]) -> Path:
    """Resolve ``raw`` (absolute, or relative to the first root), require it to lie inside one
    of ``roots`` after following every symlink, and to be a directory the server can reach.

    Raises:
        BadRequest: the path escapes the roots, is malformed, or the filesystem refuses it (too
            long, a loop of symlinks, a file on the way, no permission...): the message says which.
    """
    if "\x00" in raw:
        raise BadRequest("Adapter path must not contain NUL characters")
    try:
        candidate = Path(os.path.expanduser(raw))
        if not candidate.is_absolute():
            candidate = roots[0] / candidate
        # Not strict: a missing or looping path still resolves (lexically), so the confinement
        # check below answers first and nothing about paths outside the roots is revealed.
        resolved = Path(os.path.realpath(candidate))
    except (OSError, ValueError) as exc:
        raise BadRequest(f"Adapter path {shown(raw)} is not a usable path: {exc}") from exc
    if not any(resolved == root or resolved.is_relative_to(root) for root in roots):
        allowed = ", ".join(str(r) for r in roots)
        raise BadRequest(f"Adapter path {shown(raw)} resolves outside the adapter roots ({allowed}); "
                         "move it under one of them")
    try:
        mode = os.stat(resolved).st_mode
    except OSError as exc:
        raise BadRequest(f"Adapter path {shown(raw)} cannot be used: {os_error_reason(exc, resolved)}") from exc
    if not stat.S_ISDIR(mode):
        raise BadRequest(f"Adapter path {shown(raw)} is not a directory (an adapter is the directory "
                         "save_pretrained wrote)")
    return resolved


def read_adapter_config(path: Path) -> dict:  # type: ignore[type-arg]
    """The PEFT config of an adapter directory, after checking the weights are usable.

    Raises:
        BadRequest: not a PEFT LoRA adapter, unreadable, or a no-op (the message says which).
    """
    from training_dashboard.files.adapter_files import read_adapter_config as read_config
    from training_dashboard.files.adapter_files import verify_adapter_dir

    try:
        verify_adapter_dir(path)
        return read_config(path)
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc
    except OSError as exc:  # adapter_files turns these into ValueError; this is a safety net
        raise BadRequest(f"Adapter directory {shown(path)} cannot be read: {os_error_reason(exc)}") from exc


def _next_free_version(session: Session, name: str, version: str) -> str:
    taken = set(session.scalars(select(Adapter.version).where(Adapter.name == name)))
    core = version.split("-")[0].split("+")[0]
    major, minor, patch = (int(p) for p in core.split("."))
    while True:
        patch += 1
        candidate = f"{major}.{minor}.{patch}"
        if candidate not in taken:
            return candidate


def register_adapter(db: Database, data: schemas.AdapterCreate, roots: list[Path],
                     created_by: int | None = None) -> Adapter:
    """Register a PEFT LoRA directory that lies inside the adapter roots (``created_by`` a user id).

    Raises:
        BadRequest: path outside the roots, not a PEFT adapter, or a no-op adapter.
        NotFound: unknown dataset id.
        Conflict: name + version already registered (the message names the next free version).
    """
    path = confine_path(data.path, roots)
    config = read_adapter_config(path)
    base_model = data.base_model or config.get("base_model_name_or_path")
    if not base_model:
        raise BadRequest("adapter_config.json names no base model; pass base_model explicitly")

    def run(session: Session) -> Adapter:
        if data.dataset_id is not None and session.get(Dataset, data.dataset_id) is None:
            raise NotFound(f"Dataset {data.dataset_id} not found")
        if session.scalar(select(Adapter.id).where(Adapter.name == data.name, Adapter.version == data.version)):
            free = _next_free_version(session, data.name, data.version)
            raise Conflict(f"Adapter '{data.name}' version {data.version} is already registered; "
                           f"next free version is {free}")
        adapter = Adapter(name=data.name, version=data.version, description=data.description, base_model=base_model,
                          path=str(path), dataset_id=data.dataset_id, manifest_sha256=data.manifest_sha256,
                          training_config=data.training_config, report=data.report, is_active=data.is_active,
                          created_by=created_by, activated_by=created_by if data.is_active else None)
        session.add(adapter)
        session.flush()
        return adapter

    try:
        return db.write(run)
    except IntegrityError as exc:
        raise Conflict(f"Adapter '{data.name}' version {data.version} is already registered") from exc


def adapter_public(adapter: Adapter, base_model: str, dataset_name: str | None = None,
                   evaluation: schemas.AdapterVerdict | None = None) -> schemas.AdapterPublic:
    return schemas.AdapterPublic(
        id=adapter.id or 0, name=adapter.name, version=adapter.version, description=adapter.description,
        base_model=adapter.base_model, path=adapter.path, dataset_id=adapter.dataset_id, dataset_name=dataset_name,
        manifest_sha256=adapter.manifest_sha256, training_config=adapter.training_config, report=adapter.report,
        is_active=adapter.is_active, compatible=adapter.base_model == base_model,
        created_at=adapter.created_at, updated_at=adapter.updated_at,
        evaluation=evaluation or schemas.AdapterVerdict(), forced_activation_reason=adapter.forced_activation_reason,
        forced_activation_at=adapter.forced_activation_at, created_by=adapter.created_by,
        activated_by=adapter.activated_by, forced_by=adapter.forced_by,
    )


def list_adapters(db: Database, status: str, base_model_filter: str | None, page: int, limit: int,
                  base_model: str) -> schemas.Page[schemas.AdapterPublic]:
    """Newest first, optionally only active / inactive ones or those for one base model."""
    clauses = []
    if status == "active":
        clauses.append(Adapter.is_active.is_(True))
    elif status == "inactive":
        clauses.append(Adapter.is_active.is_(False))
    if base_model_filter:
        clauses.append(Adapter.base_model == base_model_filter)
    with db.session() as session:
        total = session.scalar(select(func.count()).select_from(Adapter).where(*clauses)) or 0
        rows = session.execute(
            select(Adapter, Dataset.name).outerjoin(Dataset, Dataset.id == Adapter.dataset_id).where(*clauses)
            .order_by(Adapter.id.desc()).offset((page - 1) * limit).limit(limit)
        ).all()
        verdicts = latest_verdicts(session, [a.id for a, _ in rows])  # one query for the page
    return schemas.Page[schemas.AdapterPublic](
        items=[adapter_public(a, base_model, name, verdicts.get(a.id)) for a, name in rows], total=total
    )


def get_adapter(db: Database, adapter_id: int, base_model: str) -> schemas.AdapterDetail:
    """An adapter with its usage: clips generated, ratings, average rating, preference wins."""
    with db.session() as session:
        row = session.execute(
            select(Adapter, Dataset.name).outerjoin(Dataset, Dataset.id == Adapter.dataset_id)
            .where(Adapter.id == adapter_id)
        ).first()
        if row is None:
            raise NotFound(f"Adapter {adapter_id} not found")
        adapter, dataset_name = row
        generated = session.scalar(
            select(func.count()).select_from(AudioSample).where(AudioSample.adapter_id == adapter_id)
        ) or 0
        counters = read_counters(session)
        wins = session.scalar(select(func.count()).select_from(Preference).where(
            Preference.chosen_adapter_id == adapter_id, Preference.rejected_adapter_id.is_distinct_from(adapter_id),
            Preference.tie.is_(False))) or 0
        losses = session.scalar(select(func.count()).select_from(Preference).where(
            Preference.rejected_adapter_id == adapter_id, Preference.chosen_adapter_id.is_distinct_from(adapter_id),
            Preference.tie.is_(False))) or 0
        verdict = latest_verdicts(session, [adapter_id]).get(adapter_id)
    ratings = counters.get(f"adapter.{adapter_id}.count", 0)
    usage = schemas.AdapterUsage(
        samples_generated=generated, ratings=ratings,
        average_rating=round(counters.get(f"adapter.{adapter_id}.sum", 0) / ratings, 3) if ratings else None,
        preference_wins=wins, preference_losses=losses,
        preference_win_rate=round(wins / (wins + losses), 3) if wins + losses else None,
    )
    return schemas.AdapterDetail(**adapter_public(adapter, base_model, dataset_name, verdict).model_dump(),
                                 usage=usage)


def update_adapter(db: Database, adapter_id: int, data: schemas.AdapterUpdate, actor_id: int | None = None) -> Adapter:
    """Change the description and/or the active flag (an activation records ``actor_id``)."""

    def run(session: Session) -> Adapter:
        adapter = session.get(Adapter, adapter_id)
        if adapter is None:
            raise NotFound(f"Adapter {adapter_id} not found")
        if data.description is not None:
            adapter.description = data.description
        if data.is_active is not None:
            if data.is_active and not adapter.is_active:
                adapter.activated_by, adapter.forced_by = actor_id, None
            adapter.is_active = data.is_active
        adapter.updated_at = utcnow()
        return adapter

    return db.write(run)


def delete_adapter(db: Database, adapter_id: int) -> None:
    """Remove an adapter from the registry (its files stay on disk; feedback keeps its id).

    Raises:
        Conflict: a queued or running job uses it.
    """

    def run(session: Session) -> None:
        adapter = session.get(Adapter, adapter_id)
        if adapter is None:
            raise NotFound(f"Adapter {adapter_id} not found")
        busy = session.scalar(select(func.count()).select_from(GenerationJob).where(
            GenerationJob.adapter_id == adapter_id, GenerationJob.status.in_(["queued", "processing"])))
        if busy:
            raise Conflict(f"Adapter '{adapter.name}' {adapter.version} is used by {busy} queued or running job(s); "
                           "wait for them or cancel them first")
        session.delete(adapter)

    db.write(run)


