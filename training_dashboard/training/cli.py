"""The command line: ``python -m training_dashboard.training {sft,dpo,register}``.

Heavy imports (torch, transformers, peft) happen inside :func:`main`, so ``--help`` is instant.
The exit statuses (``EXIT_*`` below) and the report are described in the package docstring,
which ``--help`` prints.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from training_dashboard import training
from training_dashboard.training.layout import latest_checkpoint
from training_dashboard.training.options import OPTIONS, OptionError, check_version, merge, read_config_file

EXIT_EPILOG = ("exit status: 0 saved (and registered), 1 failed, 2 bad usage or data, 3 saved but not registered, "
               "130 interrupted or stopped on request, resumable "
               "(details: python -m training_dashboard.training --help)")
RUN_KEYS = ("data", "name", "version", "output", "base_model", "api_url", "no_register", "run_id")
EXIT_OK = 0  # adapter trained and saved (and registered unless --no-register)
EXIT_FAILED = 1  # the run failed: base model, training, or saving the adapter / report
EXIT_USAGE = 2  # bad options, a bad export or run directory: nothing was trained
EXIT_NOT_REGISTERED = 3  # adapter saved, but the API was unreachable or refused it
EXIT_INTERRUPTED = 130  # Ctrl-C: continue with --resume RUN_DIR


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training_dashboard.training", description=training.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="{sft,dpo,register}")
    for task, help_text in (("sft", "supervised fine-tuning on a supervised export"),
                            ("dpo", "preference optimisation (DPO) on a preference export")):
        p = sub.add_parser(task, help=help_text, description=f"{help_text}. Every option can also come from "
                           "--config FILE (JSON; flags given here override it).",
                           argument_default=argparse.SUPPRESS, epilog=EXIT_EPILOG)
        p.add_argument("--data", metavar="DIR", help="the export directory (JSONL or Hugging Face format)")
        p.add_argument("--config", metavar="FILE", type=Path, help="JSON file of options")
        p.add_argument("--output", metavar="DIR", help="run directory (default: <adapter root>/<name>-<version>)")
        p.add_argument("--name", help="adapter name (default: <dataset>-<task>)")
        p.add_argument("--version", help="adapter version, semantic (default 1.0.0)")
        p.add_argument("--resume", metavar="PATH", type=Path, help="a checkpoint dir, or a run dir (latest checkpoint)")
        p.add_argument("--base-model", help="override TD_BASE_MODEL (tiny, a HF id or a local dir)")
        p.add_argument("--api-url", help="API to register with (default TD_API_URL)")
        p.add_argument("--no-register", action="store_true", help="do not register the adapter with the API")
        p.add_argument("--run-id", type=int, help="the dashboard run this is (recorded in train_config.json)")
        for name, (kind, default, low, high, text) in OPTIONS.items():
            if name == "beta" and task == "sft" or name == "cond_dropout" and task == "dpo":
                continue
            p.add_argument("--" + name.replace("_", "-"), metavar=kind.__name__.upper(),
                           help=f"{text} [{low:g}..{high:g}, default {default:g}]")
        p.add_argument("--target-modules", metavar="LIST", help="LoRA targets in the MusicGen decoder, comma-separated "
                       "(q_proj,k_proj,v_proj,out_proj,fc1,fc2; default q_proj,v_proj)")
    reg = sub.add_parser("register", help="register a finished run with the API", epilog="exit status: 0 "
                         "registered, 2 not a finished run, 3 not registered (API unreachable or refused it)")
    reg.add_argument("run_dir", type=Path)
    reg.add_argument("--api-url", default=None)
    return parser


def main(argv: list[str] | None = None, transport: Any = None) -> int:
    """Run the CLI. Returns the exit status: one of the ``EXIT_*`` constants.

    Args:
        argv: arguments (default ``sys.argv[1:]``).
        transport: an httpx transport for the API client (tests run the API in-process).
    """
    args = vars(build_parser().parse_args(argv))
    from training_dashboard.config import Settings
    from training_dashboard.training.data import DataError
    from training_dashboard.training.stopping import EXIT_STOPPED, Stopped

    settings = Settings()
    command = args.pop("command")
    try:
        if command == "register":
            from training_dashboard.training.report import register

            try:
                adapter_id, message = register(args["run_dir"].expanduser().resolve(),
                                               args["api_url"] or settings.api_url, settings.api_token, transport)
            except ValueError as exc:
                raise OptionError(str(exc)) from exc
            print(message, file=sys.stdout if adapter_id is not None else sys.stderr)
            return EXIT_OK if adapter_id is not None else EXIT_NOT_REGISTERED
        return _train(command, args, settings, transport)
    except (OptionError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Stopped as exc:  # SIGTERM / Ctrl-C: a checkpoint was saved, the run can be resumed
        print(str(exc), file=sys.stderr)
        return EXIT_STOPPED
    except KeyboardInterrupt:
        print("interrupted: continue the run with --resume RUN_DIR (from its latest checkpoint)", file=sys.stderr)
        return EXIT_INTERRUPTED


def _train(task: str, args: dict[str, Any], settings: Any, transport: Any) -> int:
    from training_dashboard.schemas import slugify
    from training_dashboard.training.data import read_info

    file_cfg = read_config_file(args.pop("config")) if "config" in args else {}
    run = {k: args.pop(k, file_cfg.pop(k, None)) for k in RUN_KEYS}
    resume = args.pop("resume", None)
    saved: dict[str, Any] = {}
    if resume is not None:
        try:
            resume = latest_checkpoint(resume.expanduser().resolve())
        except ValueError as exc:
            raise OptionError(f"--resume: {exc}") from exc
        saved = json.loads((resume.parent.parent / "train_config.json").read_text())
        run = {k: run[k] if run[k] is not None else saved.get("run", {}).get(k) for k in RUN_KEYS}
    if not run["data"]:
        raise OptionError("--data DIR is required (the export directory shown on the Datasets tab)")
    hyper = merge(saved.get("hyperparameters"), file_cfg, args)
    data_dir = Path(run["data"]).expanduser().resolve()
    info = read_info(data_dir)
    run["name"] = run["name"] or slugify(f"{info.get('dataset_name') or 'dataset'}-{task}")
    run["version"] = check_version(run["version"] or "1.0.0")
    base_name = run["base_model"] or settings.base_model
    roots = settings.resolved_adapter_roots
    root = settings.default_adapter_root if settings.default_adapter_root in roots else roots[0]
    run_dir = resume.parent.parent if resume else Path(run["output"] or root / f"{run['name']}-{run['version']}")
    run_dir = run_dir.expanduser().resolve()
    if resume is None and run_dir.exists() and any(run_dir.iterdir()):
        raise OptionError(f"output directory {run_dir} is not empty: pick another --output or --version, "
                          f"or continue that run with --resume {run_dir}")
    return _execute(task, run, hyper, data_dir, run_dir, base_name, resume, settings, transport)


def _execute(task: str, run: dict[str, Any], hyper: dict[str, Any], data_dir: Path, run_dir: Path, base_name: str,
             resume: Path | None, settings: Any, transport: Any) -> int:
    from training_dashboard.engine.loader import ModelLoadError, load_base_model
    from training_dashboard.training.data import load_export
    from training_dashboard.training.trainer import Trainer

    started = time.time()
    try:
        base = load_base_model(base_name, settings.resolved_data_dir)
    except ModelLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    export = load_export(data_dir, task, base.sample_rate, hyper["max_clip_seconds"])
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "train_config.json").write_text(json.dumps(
            {"task": task, "run": {**run, "data": str(data_dir)}, "hyperparameters": hyper}, indent=2))
    except OSError as exc:
        print(f"error: cannot write the run directory {run_dir}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{task}: {len(export.rows)} examples from {data_dir} on {base_name} ({base.device}); run dir {run_dir}")
    trainer = Trainer(task, hyper, base, export, run_dir)
    state = trainer.run(resume)
    report = {
        "task": task, "name": run["name"], "version": run["version"], "base_model": base_name,
        "dataset_id": export.dataset_id, "dataset_name": export.info.get("dataset_name"),
        "manifest_sha256": export.manifest_sha256, "export_path": str(data_dir), "export_format":
        export.info.get("format"), "hyperparameters": hyper, "steps": state.step, "total_steps": trainer.total_steps,
        "examples_train": len(trainer.train_items), "examples_heldout": len(trainer.val_items),
        "initial_eval_loss": state.initial_eval, "best_eval_loss": state.best_eval, "best_step": state.best_step,
        "final_eval_loss": state.last_eval, "final_train_loss": state.losses[-1] if state.losses else None,
        "stopped_early": state.stopped_early, "device": base.device, "registered_adapter_id": None,
    }
    from safetensors import SafetensorError

    try:
        report |= _keep_adapter(trainer, state, run_dir)
        report["wall_time_s"] = round(time.time() - started, 2)
        _finish_report(report, run_dir)
    except (OSError, SafetensorError) as exc:
        print(f"error: saving the adapter or its report in {run_dir} failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except ValueError as exc:  # the kept adapter would change nothing: never offer it
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"saved the {report['adapter']} adapter (step {report['adapter_step']}) and training_report.json "
          f"in {run_dir}")
    for warning in report["warnings"]:  # on stdout: part of the result, as in the report
        print(f"warning: {warning}")
    if run["no_register"]:
        return EXIT_OK
    from training_dashboard.training.report import register

    adapter_id, message = register(run_dir, run["api_url"] or settings.api_url, settings.api_token, transport)
    print(message, file=sys.stdout if adapter_id is not None else sys.stderr)
    return EXIT_OK if adapter_id is not None else EXIT_NOT_REGISTERED


def _keep_adapter(trainer: Any, state: Any, run_dir: Path) -> dict[str, Any]:
    """Put the result in ``run_dir``: the best held-out adapter if training ever beat the
    untrained one on held-out data, else the final adapter. Returns the report fields saying which."""
    from training_dashboard.training.trainer import BEST_DIR, BEST_FILE

    best = run_dir / BEST_DIR
    improved = state.best_step is not None and (best / BEST_FILE).is_file()
    if improved:
        for item in best.iterdir():
            if item.is_file() and item.name != BEST_FILE:
                (run_dir / item.name).write_bytes(item.read_bytes())
    else:
        trainer._save_adapter(run_dir)
    return {"adapter": "best held-out" if improved else "final",
            "adapter_step": state.best_step if improved else state.step,
            "heldout_improved": improved if trainer.val_items else None}


def _finish_report(report: dict[str, Any], run_dir: Path) -> None:
    """Check the kept adapter, add the warnings, write ``training_report.json``.

    Raises:
        ValueError: the kept adapter is a no-op (every LoRA-B matrix still zero).
        OSError: the report could not be written.
    """
    from training_dashboard.files.adapter_files import verify_adapter_dir
    from training_dashboard.training.report import not_improved_warning, write_report

    report["warnings"] = []
    if report["heldout_improved"] is False:
        rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        evals = [(r["step"], r["eval_loss"]) for r in rows if "eval_loss" in r and r["step"] >= 1]
        report["warnings"].append(not_improved_warning(report, evals))
    write_report(run_dir, report)
    try:
        verify_adapter_dir(run_dir)
    except ValueError:
        raise ValueError(
            f"after {report['steps']} step(s) the adapter in {run_dir} is still exactly the untrained one (every "
            f"LoRA-B matrix is zero), so it would change nothing; not registering it. Try a higher --lr (now "
            f"{report['hyperparameters']['lr']:g}) or more --epochs.") from None
