"""The training report, the plain-words verdict on held-out loss, and registration of the
finished adapter through the API client.

``training_report.json`` (a stable contract: the dashboard reads it) holds: task, name,
version, base_model, dataset_id, dataset_name, manifest_sha256, export_path, export_format,
hyperparameters, steps, total_steps, examples_train, examples_heldout, initial_eval_loss
(step 0, untrained), best_eval_loss and best_step (the best trained adapter that beat step 0;
null when none did), final_eval_loss, final_train_loss, stopped_early, wall_time_s, device,
adapter ("best held-out" or "final"), adapter_step (the step of the adapter kept),
heldout_improved (true / false; null without a held-out split), warnings (plain sentences)
and registered_adapter_id (null until registered). Held-out losses are null without a
held-out split.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import sys
from pathlib import Path
from typing import Any

REPORT_FILE = "training_report.json"
NOT_IMPROVED_MARK = "held-out loss did not improve"
STILL = 1e-4  # held-out losses this close to the untrained one mean training barely changed anything
SUMMARY_KEYS = ("task", "best_eval_loss", "initial_eval_loss", "final_eval_loss", "final_train_loss", "steps",
                "stopped_early", "wall_time_s", "examples_train", "examples_heldout", "dataset_name", "adapter",
                "adapter_step", "heldout_improved", "warnings")


def write_report(run_dir: Path, report: dict[str, Any]) -> Path:
    path = run_dir / REPORT_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)  # a reader (the dashboard) never sees half a report
    return path


def read_report(run_dir: Path) -> dict[str, Any]:
    """The report of a finished run.

    Raises:
        ValueError: ``run_dir`` holds no readable training report (not a finished run).
    """
    try:
        report = json.loads((run_dir / REPORT_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{run_dir} has no {REPORT_FILE}: not a finished training run "
                         f"(an interrupted one continues with --resume {run_dir})") from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"{run_dir / REPORT_FILE} is unreadable: {exc}") from None
    if not isinstance(report, dict) or not {"name", "version", "task", "base_model"} <= set(report):
        raise ValueError(f"{run_dir / REPORT_FILE} is not a training report")
    return report


def not_improved_warning(report: dict[str, Any], evals: list[tuple[int, float]]) -> str:
    """Say in plain words that held-out loss never went below the untrained adapter's, and what to try.

    Args:
        report: the run's report (hyperparameters, example counts, losses).
        evals: (step, held-out loss) of every evaluation after training started.
    """
    hyper = report["hyperparameters"]
    seen = ", ".join(f"{loss:.4f} at step {step}" for step, loss in evals[-6:])
    held, train = report["examples_heldout"], report["examples_train"]
    initial = report.get("initial_eval_loss")
    moved = initial is not None and any(abs(loss - initial) > STILL for _, loss in evals)
    lr_tip = (f"a lower learning rate (--lr, now {hyper['lr']:g})" if moved or not evals else
              f"a higher learning rate (--lr, now {hyper['lr']:g}) or more --epochs: the held-out loss barely moved")
    tips = ["more data (rate or compare more clips)", lr_tip, f"more patience (--patience, now {hyper['patience']})"]
    tips.append(f"no held-out split (--val-fraction 0): with {held} held-out example(s) the held-out loss is "
                f"mostly noise" if held < 20 else "a larger held-out split (--val-fraction) for a steadier signal")
    return (f"The held-out loss never improved: {_num(report.get('initial_eval_loss'))} before training (step 0), then "
            f"{seen or 'no evaluation'}{' (stopped early)' if report['stopped_early'] else ''}. The adapter kept is "
            f"the final one (step {report['steps']}, trained on {train} example(s)); it is marked "
            f"'{NOT_IMPROVED_MARK}'. To try: " + "; ".join(tips) + ".")


def register_payload(run_dir: Path, report: dict[str, Any]) -> dict[str, Any]:
    """The AdapterCreate body for a finished run (provenance from its report)."""
    description = f"{report['task'].upper()} LoRA on dataset '{report.get('dataset_name')}'"
    if report.get("heldout_improved") is False:
        description += f" ({NOT_IMPROVED_MARK}: {_num(report.get('initial_eval_loss'))} untrained, " \
                       f"{_num(report.get('final_eval_loss'))} at the end; see the training report)"
    return {
        "name": report["name"], "version": report["version"], "path": str(run_dir), "description": description,
        "base_model": report["base_model"], "dataset_id": report.get("dataset_id"),
        "manifest_sha256": report.get("manifest_sha256"), "training_config": report["hyperparameters"],
        "report": {k: report.get(k) for k in SUMMARY_KEYS}, "is_active": False,
    }


def register_command(run_dir: Path, api_url: str) -> str:
    return (f"{shlex.quote(sys.executable)} -m training_dashboard.training register {shlex.quote(str(run_dir))} "
            f"--api-url {shlex.quote(api_url)}")


def register(run_dir: Path, api_url: str, token: str | None, transport: Any = None) -> tuple[int | None, str]:
    """Register the adapter of ``run_dir`` with the API and record the id in its report.

    Returns:
        (adapter_id, message): the id is None when registration failed; the message names
        the registered adapter, or says why it failed and the exact command to retry with.

    Raises:
        ValueError: ``run_dir`` is not a finished run.
    """
    from training_dashboard import schemas
    from training_dashboard.client import ApiClient, ApiError

    report = read_report(run_dir)
    body = schemas.AdapterCreate.model_validate(register_payload(run_dir, report))

    async def call() -> schemas.AdapterPublic:
        async with ApiClient(api_url, token=token, timeout=30.0, transport=transport) as api:
            return await api.register_adapter(body)

    retry = f"The adapter is saved in {run_dir}; register it later with:\n  {register_command(run_dir, api_url)}"
    try:
        adapter = asyncio.run(call())
    except ApiError as exc:
        if exc.status == 0:
            return None, f"Not registered: the API at {api_url} is unreachable ({exc.message}). {retry}"
        if exc.status in (401, 403):
            who = "signed in: set TD_API_TOKEN to a personal access token (Account page)" if exc.status == 401 \
                else "allowed: registering adapters needs the trainer role"
            return None, f"Not registered: not {who} ({exc.message}). {retry}"
        return None, f"Not registered: the API refused it ({exc.status}): {exc.message}. The adapter is in {run_dir}."
    write_report(run_dir, {**report, "registered_adapter_id": adapter.id})
    mark = f", marked '{NOT_IMPROVED_MARK}'" if report.get("heldout_improved") is False else ""
    return adapter.id, (f"Registered adapter '{adapter.name}' {adapter.version} (id {adapter.id}{mark}); "
                        f"activate it on the Adapters tab to generate with it.")


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
