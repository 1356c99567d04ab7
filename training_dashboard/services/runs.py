"""Training runs: presets, the resolved configuration and its CLI command, and the lifecycle
the API drives (create, list, read, cancel, resume, delete).

A run's options are the training CLI's own (:mod:`training_dashboard.training.options`),
validated by the same code; the API spells three of them the way the rest of the product
does (``learning_rate``, ``lora_r``, ``eval_fraction``). The worker side (claiming, metrics,
completion) lives in :mod:`training_dashboard.services.run_worker`.
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlmodel import Session

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.db.models import Dataset, DatasetExport, TrainingRun, TrainingRunMetric, utcnow
from training_dashboard.services.dataset_lock import dataset_lock
from training_dashboard.services.errors import BadRequest, Conflict, NotFound
from training_dashboard.training import options as cli_options

TERMINAL = ("completed", "failed", "cancelled")
QUEUE_WAIT_S = 30.0  # how long queueing a run waits for an export or a delete of its dataset
TASK_TYPES = {"sft": "supervised", "dpo": "preference"}
# API key -> the CLI option it is (the others are spelled the same).
ALIASES = {"learning_rate": "lr", "lora_r": "lora_rank", "eval_fraction": "val_fraction"}
TASK_ONLY = {"beta": "dpo", "cond_dropout": "sft"}
PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "quick": ("One short pass with a small LoRA (rank 8): checks the data and the settings in minutes.",
              {"epochs": 1, "learning_rate": 3e-4, "lora_r": 8, "lora_alpha": 16, "checkpoint_every": 20}),
    "standard": ("The CLI's defaults: 3 epochs, rank 16 on q/v, early stopping on held-out loss.", {}),
    "thorough": ("10 epochs, rank 32 on every attention projection, a gentler learning rate, patience 5: "
                 "for larger datasets.",
                 {"epochs": 10, "learning_rate": 5e-5, "lora_r": 32, "lora_alpha": 64, "patience": 5,
                  "target_modules": ["q_proj", "k_proj", "v_proj", "out_proj"], "checkpoint_every": 100}),
}


def api_key(cli_name: str) -> str:
    return next((k for k, v in ALIASES.items() if v == cli_name), cli_name)


def cli_name(key: str) -> str:
    return ALIASES.get(key, key)


def run_options() -> schemas.RunOptions:
    """The presets and every option with its range, for forms that validate like the CLI."""
    out = []
    for name, (kind, default, low, high, text) in cli_options.OPTIONS.items():
        tasks = [TASK_ONLY[name]] if name in TASK_ONLY else ["sft", "dpo"]
        out.append(schemas.RunOption(name=api_key(name), flag="--" + name.replace("_", "-"), kind=kind.__name__,
                                     default=default, minimum=low, maximum=high, help=text, tasks=tasks))
    for name, default in cli_options.LIST_OPTIONS.items():
        from training_dashboard.training.lora import TARGET_CHOICES

        out.append(schemas.RunOption(name=name, flag="--" + name.replace("_", "-"), kind="list", default=default,
                                     help="LoRA targets in the MusicGen decoder", tasks=["sft", "dpo"],
                                     choices=list(TARGET_CHOICES)))
    presets = [schemas.RunPresetInfo(name=name, description=text, config=cfg)  # type: ignore[arg-type]
               for name, (text, cfg) in PRESETS.items()]
    return schemas.RunOptions(presets=presets, options=out)


def resolve_config(task: str, preset: str, config: dict[str, Any]) -> dict[str, Any]:
    """CLI defaults < preset < ``config``, validated by the CLI's own rules; keys as the API spells them.

    Raises:
        BadRequest: an unknown option, one that does not apply to ``task``, or a value out of range.
    """
    known = {api_key(n) for n in cli_options.TRAINING_KEYS}
    unknown = sorted(set(config) - known)
    if unknown:
        raise BadRequest(f"config: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    for key, only in TASK_ONLY.items():
        if api_key(key) in config and task != only:
            raise BadRequest(f"config.{api_key(key)} applies to {only} runs only")
    layer = {cli_name(k): v for k, v in {**PRESETS[preset][1], **config}.items()}
    try:
        merged = cli_options.merge(None, None, layer)
    except cli_options.OptionError as exc:
        message = str(exc)
        for name in sorted(cli_options.TRAINING_KEYS, key=len, reverse=True):
            flag = "--" + name.replace("_", "-")
            if message.startswith(flag):
                message = f"{api_key(name)} ({flag})" + message[len(flag):]
                break
        raise BadRequest(f"config: {message}") from None
    return {api_key(k): v for k, v in merged.items() if not (k in TASK_ONLY and TASK_ONLY[k] != task)}


def cli_flags(config: dict[str, Any]) -> list[str]:
    """The flags that turn the CLI's defaults into ``config`` (only the differing ones)."""
    defaults = cli_options.defaults()
    flags: list[str] = []
    for key, value in config.items():
        name = cli_name(key)
        if defaults.get(name) == value:
            continue
        flags.append("--" + name.replace("_", "-"))
        flags.append(",".join(value) if isinstance(value, list) else repr(value) if isinstance(value, float)
                     else str(value))
    return flags


def train_command(task: str, export_path: str, name: str, config: dict[str, Any]) -> str:
    """The equivalent copy-paste command: the same training, run from a terminal."""
    argv = ["python", "-m", "training_dashboard.training", task, "--data", export_path, "--name", name,
            *cli_flags(config)]
    return shlex.join(argv)


def _current_export(db: Database, dataset: Dataset) -> str | None:
    with db.session() as session:
        rows = {e.format: e.path for e in session.scalars(
            select(DatasetExport).where(DatasetExport.dataset_id == dataset.id))}
    for fmt in ("jsonl", "huggingface"):
        path = rows.get(fmt)
        if path and (Path(path) / "td_export.json").is_file():
            return path
    return None


def create_run(db: Database, data: schemas.RunCreate, *, data_dir: Path, exports_dir: Path, adapter_root: Path,
               base_model: str, created_by: int | None = None) -> schemas.RunPublic:
    """Validate, export the dataset if it has no current export, and queue the run (``created_by`` a user id).

    Raises:
        NotFound: unknown dataset.
        BadRequest: the task does not fit the dataset's type, the dataset is empty, or an option is invalid.
    """
    from training_dashboard.services.exports import export_dataset

    with db.session() as session:
        dataset = session.get(Dataset, data.dataset_id)
        if dataset is None:
            raise NotFound(f"Dataset {data.dataset_id} not found")
    if dataset.type != TASK_TYPES[data.task]:
        other = "dpo" if data.task == "sft" else "sft"
        raise BadRequest(f"Dataset '{dataset.name}' is a {dataset.type} dataset; task '{data.task}' needs a "
                         f"{TASK_TYPES[data.task]} one (train this dataset with '{other}')")
    if dataset.sample_count == 0:
        raise BadRequest(f"Dataset '{dataset.name}' is empty: there is nothing to train on")
    config = resolve_config(data.task, data.preset, data.config)
    export_path = _current_export(db, dataset) or export_dataset(
        db, data_dir, exports_dir, base_model, dataset.id or 0, "jsonl").export_path
    name = data.name or schemas.slugify(f"{dataset.name}-{data.task}")[:100]

    def run(session: Session) -> TrainingRun:
        # Deleted since it was read (FOR UPDATE: on PostgreSQL a delete in flight finishes first).
        if session.scalar(select(Dataset.id).where(Dataset.id == dataset.id).with_for_update()) is None:
            raise NotFound(f"Dataset {data.dataset_id} not found (it was deleted)")
        row = TrainingRun(name=name, dataset_id=dataset.id or 0, dataset_name=dataset.name, task=data.task,
                          config={"preset": data.preset, **config}, export_path=export_path, output_dir="",
                          command=train_command(data.task, export_path, name, config), created_by=created_by)
        session.add(row)
        session.flush()
        row.output_dir = str(adapter_root / f"run-{row.id}-{schemas.slugify(name)}")
        return row

    # The dataset's lock (held by a delete while it checks for runs and removes the export): a run
    # is queued either before a delete looks, which then refuses, or after it, and then finds no dataset.
    busy = f"Dataset {dataset.id} is being exported or deleted; try again in a moment"
    with dataset_lock(exports_dir, dataset.id or 0, QUEUE_WAIT_S, busy):
        return run_public(db.write(run))


def run_config(row: TrainingRun) -> dict[str, Any]:
    """The resolved training options (without the preset's name)."""
    return {k: v for k, v in row.config.items() if k != "preset"}


def run_public(row: TrainingRun) -> schemas.RunPublic:
    return schemas.RunPublic(
        id=row.id or 0, name=row.name, dataset_id=row.dataset_id, dataset_name=row.dataset_name,
        task=row.task, status=row.status, config=row.config, progress=row.progress,  # type: ignore[arg-type]
        step=row.step, total_steps=row.total_steps, best_eval_loss=row.best_eval_loss, eta_seconds=row.eta_seconds,
        adapter_id=row.adapter_id, error=row.error, command=row.command, output_dir=row.output_dir,
        attempts=row.attempts, cancel_requested=row.cancel_requested, created_at=row.created_at,
        started_at=row.started_at, finished_at=row.finished_at, created_by=row.created_by,
    )


def list_runs(db: Database, status: str | None, dataset_id: int | None, page: int,
              limit: int) -> schemas.Page[schemas.RunPublic]:
    """Newest first, optionally one status and/or one dataset."""
    clauses = []
    if status:
        clauses.append(TrainingRun.status == status)
    if dataset_id is not None:
        clauses.append(TrainingRun.dataset_id == dataset_id)
    with db.session() as session:
        total = session.scalar(select(func.count()).select_from(TrainingRun).where(*clauses)) or 0
        rows = session.scalars(select(TrainingRun).where(*clauses).order_by(TrainingRun.id.desc())
                               .offset((page - 1) * limit).limit(limit)).all()
        return schemas.Page[schemas.RunPublic](items=[run_public(r) for r in rows], total=total)


def _get(session: Session, run_id: int) -> TrainingRun:
    row = session.get(TrainingRun, run_id)
    if row is None:
        raise NotFound(f"Run {run_id} not found")
    return row


def get_run(db: Database, run_id: int) -> schemas.RunPublic:
    with db.session() as session:
        return run_public(_get(session, run_id))


def cancel_run(db: Database, run_id: int) -> schemas.RunPublic:
    """A queued run is cancelled at once; a running one stops after its current step (checkpoint kept).

    Raises:
        Conflict: the run already finished.
    """

    def run(session: Session) -> TrainingRun:
        row = _get(session, run_id)
        if row.status in TERMINAL:
            raise Conflict(f"Run {run_id} is already {row.status}")
        now = utcnow()
        if row.status == "queued":
            row.status, row.finished_at, row.resume = "cancelled", now, False
        row.cancel_requested, row.updated_at = True, now
        return row

    return run_public(db.write(run))


def resume_run(db: Database, run_id: int) -> schemas.RunPublic:
    """Queue a cancelled or failed run again; it continues from its last checkpoint under the same id.

    Raises:
        Conflict: the run is queued, running or completed, or its dataset (and so its export) was deleted.
    """

    def run(session: Session) -> TrainingRun:
        row = _get(session, run_id)
        if row.status not in ("cancelled", "failed"):
            raise Conflict(f"Run {run_id} is {row.status}: only a cancelled or failed run can be resumed")
        if session.scalar(select(Dataset.id).where(Dataset.id == row.dataset_id).with_for_update()) is None:
            raise Conflict(f"Run {run_id} cannot resume: its dataset '{row.dataset_name}' was deleted with its "
                           "export. Start a new run from another dataset")
        row.status, row.resume, row.cancel_requested = "queued", True, False
        row.error, row.finished_at, row.eta_seconds, row.updated_at = None, None, None, utcnow()
        row.dispatched_at = None  # broker mode: the dispatcher sends it again
        return row

    return run_public(db.write(run))


def delete_run(db: Database, run_id: int, log_path: Path) -> None:
    """Delete a finished run, its metrics and its log. The adapter it registered stays, with its files;
    a run that registered none takes its checkpoints with it.

    Raises:
        Conflict: the run is queued or running.
    """

    def run(session: Session) -> TrainingRun:
        row = _get(session, run_id)
        if row.status not in TERMINAL:
            raise Conflict(f"Run {run_id} is {row.status}: cancel it before deleting it")
        session.execute(delete(TrainingRunMetric).where(TrainingRunMetric.run_id == run_id))
        session.execute(delete(TrainingRun).where(TrainingRun.id == run_id))
        return row

    row = db.write(run)
    log_path.unlink(missing_ok=True)
    shutil.rmtree(log_path.parent / f"run-{run_id}", ignore_errors=True)  # checkpoints workers uploaded
    if row.adapter_id is None and row.output_dir and Path(row.output_dir).name.startswith(f"run-{run_id}-"):
        shutil.rmtree(row.output_dir, ignore_errors=True)
