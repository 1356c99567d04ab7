"""The training report and registration of the finished adapter through the API client."""

from __future__ import annotations

import asyncio
import json
import shlex
import sys
from pathlib import Path
from typing import Any

REPORT_FILE = "training_report.json"


def write_report(run_dir: Path, report: dict[str, Any]) -> Path:
    path = run_dir / REPORT_FILE
    path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def register_payload(run_dir: Path, report: dict[str, Any]) -> dict[str, Any]:
    """The AdapterCreate body for a finished run (provenance from its report)."""
    summary = {k: report.get(k) for k in ("task", "best_eval_loss", "initial_eval_loss", "final_train_loss",
                                          "steps", "stopped_early", "wall_time_s", "examples_train",
                                          "examples_heldout", "dataset_name")}
    return {
        "name": report["name"], "version": report["version"], "path": str(run_dir),
        "description": f"{report['task'].upper()} LoRA on dataset '{report.get('dataset_name')}'",
        "base_model": report["base_model"], "dataset_id": report.get("dataset_id"),
        "manifest_sha256": report.get("manifest_sha256"), "training_config": report["hyperparameters"],
        "report": summary, "is_active": False,
    }


def register_command(run_dir: Path, api_url: str) -> str:
    return (f"{shlex.quote(sys.executable)} -m training_dashboard.training register {shlex.quote(str(run_dir))} "
            f"--api-url {shlex.quote(api_url)}")


def register(run_dir: Path, api_url: str, token: str | None, transport: Any = None) -> tuple[bool, str]:
    """Register the adapter of ``run_dir`` with the API.

    Returns:
        (ok, message): the message names the registered adapter, or says why it failed and,
        when the API was unreachable, the exact command to run later.
    """
    from training_dashboard import schemas
    from training_dashboard.client import ApiClient, ApiError

    report = json.loads((run_dir / REPORT_FILE).read_text(encoding="utf-8"))
    body = schemas.AdapterCreate.model_validate(register_payload(run_dir, report))

    async def call() -> schemas.AdapterPublic:
        async with ApiClient(api_url, token=token, timeout=30.0, transport=transport) as api:
            return await api.register_adapter(body)

    try:
        adapter = asyncio.run(call())
    except ApiError as exc:
        if exc.status == 0:
            return False, (f"The API at {api_url} is unreachable ({exc.message}). The adapter is saved in {run_dir}; "
                           f"register it when the app runs with:\n  {register_command(run_dir, api_url)}")
        return False, f"Registration refused ({exc.status}): {exc.message}"
    return True, (f"Registered adapter '{adapter.name}' {adapter.version} (id {adapter.id}); "
                  f"activate it on the Adapters tab to generate with it.")
