"""The SFT / DPO training loop: LoRA on the full MusicGen, checkpoints, exact resume,
held-out evaluation with early stopping, and ``metrics.jsonl``.

The batch order is a pure function of (seed, epoch, step), and the checkpoint holds the
adapter, optimizer, scheduler, step and torch RNG state, so a resumed run repeats the
steps an uninterrupted run would have taken.

The held-out loss measured before training (step 0) is the baseline, never a candidate:
``best/`` only ever holds a trained adapter whose held-out loss went below the baseline
(and below every earlier one). ``best/best_eval.json`` records its step and loss, so a
resumed run knows the best adapter on disk even when it was saved after the checkpoint.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from training_dashboard.training.batches import encode_clip, make_batch, sequence_logprob, sft_loss
from training_dashboard.training.data import Export, example_text
from training_dashboard.training.layout import STATE_FILE
from training_dashboard.training.lora import lora_config
from training_dashboard.training.stopping import Stopped, StopSignals

BEST_DIR = "best"
BEST_FILE = "best_eval.json"  # in BEST_DIR: {"step", "eval_loss"} of the adapter saved there
MIN_DELTA = 1e-6  # a held-out loss must drop by more than this to count as an improvement


@dataclass
class RunState:
    step: int = 0
    best_eval: float | None = None  # the best trained adapter's held-out loss (None: never beat step 0)
    best_step: int | None = None  # its step, always >= 1
    initial_eval: float | None = None
    last_eval: float | None = None
    bad_evals: int = 0
    stopped_early: bool = False
    losses: list[float] = field(default_factory=list)


class Trainer:
    """Trains one LoRA adapter on ``export`` for ``task`` (``sft`` or ``dpo``) into ``run_dir``."""

    def __init__(self, task: str, cfg: dict[str, Any], base: Any, export: Export, run_dir: Path,
                 echo: Callable[[str], None] = print) -> None:
        from peft import get_peft_model

        self.task, self.cfg, self.base, self.run_dir, self.echo = task, cfg, base, run_dir, echo
        torch.manual_seed(cfg["seed"])  # LoRA-A initialisation
        self.model = get_peft_model(base.model, lora_config(cfg["lora_rank"], cfg["lora_alpha"], cfg["lora_dropout"],
                                                           cfg["target_modules"]))
        self.model.peft_config["default"].base_model_name_or_path = base.name  # the compatibility key
        self.train_items, self.val_items = self._prepare(export)
        bs, accum = cfg["batch_size"], cfg["grad_accum"]
        self.micro_per_epoch = math.ceil(len(self.train_items) / bs)
        self.steps_per_epoch = math.ceil(self.micro_per_epoch / accum)
        self.total_steps = cfg["epochs"] * self.steps_per_epoch
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=cfg["lr"], weight_decay=0.0)
        warmup = min(10, max(1, self.total_steps // 10))
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: min((s + 1) / warmup, max(0.05, (self.total_steps - s) / self.total_steps)))
        self.state = RunState()

    def _prepare(self, export: Export) -> tuple[list[tuple], list[tuple]]:
        codes = {key: encode_clip(self.base, wave) for key, wave in export.audio.items()}
        cols = ("audio",) if self.task == "sft" else ("chosen", "rejected")
        items = [(example_text(row), *(codes[row[c]] for c in cols)) for row in export.rows]
        n_val = int(round(len(items) * self.cfg["val_fraction"])) if len(items) >= 4 else 0
        order = np.random.default_rng(self.cfg["seed"]).permutation(len(items))
        val = [items[i] for i in order[:n_val]]
        return [items[i] for i in order[n_val:]], val

    # -- one step ------------------------------------------------------------------------

    def _loss(self, items: list[tuple], drop: list[bool] | None) -> tuple[torch.Tensor, dict[str, float]]:
        texts = [it[0] for it in items]
        if self.task == "sft":
            return sft_loss(self.model, make_batch(self.base, texts, [it[1] for it in items], drop)), {}
        batch = make_batch(self.base, texts + texts, [it[1] for it in items] + [it[2] for it in items])
        policy = sequence_logprob(self.model, batch)
        with torch.no_grad(), self.model.disable_adapter():  # reference = the base model
            reference = sequence_logprob(self.model, batch)
        n = len(items)
        chosen, rejected = (policy - reference)[:n], (policy - reference)[n:]
        margin = self.cfg["beta"] * (chosen - rejected)
        loss = -F.logsigmoid(margin).mean()
        margin = margin.detach()
        return loss, {"reward_margin": float(margin.mean()), "reward_accuracy": float((margin > 0).float().mean())}

    def _micro_batches(self, step: int) -> list[tuple[list[tuple], list[bool]]]:
        epoch, in_epoch = divmod(step - 1, self.steps_per_epoch)
        order = np.random.default_rng([self.cfg["seed"], epoch]).permutation(len(self.train_items))
        accum, bs = self.cfg["grad_accum"], self.cfg["batch_size"]
        out = []
        for micro in range(in_epoch * accum, min((in_epoch + 1) * accum, self.micro_per_epoch)):
            idx = order[micro * bs:(micro + 1) * bs]
            rng = np.random.default_rng([self.cfg["seed"], epoch, micro])
            drop = list(rng.random(len(idx)) < self.cfg["cond_dropout"]) if self.task == "sft" else []
            out.append(([self.train_items[i] for i in idx], drop))
        return out

    def train_step(self, step: int) -> dict[str, Any]:
        # DPO runs in eval mode: dropout would make policy != reference at step 0.
        self.model.train(self.task == "sft")
        micro = self._micro_batches(step)
        total_items = sum(len(items) for items, _ in micro)
        losses, extras = [], []
        for items, drop in micro:
            loss, extra = self._loss(items, drop or None)
            (loss * len(items) / total_items).backward()
            losses.append(float(loss.detach()) * len(items) / total_items)
            extras.append(extra)
        params = [p for p in self.model.parameters() if p.requires_grad]
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, 1.0))
        lr = self.scheduler.get_last_lr()[0]
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        record = {"step": step, "epoch": (step - 1) // self.steps_per_epoch + 1, "loss": sum(losses), "lr": lr,
                  "grad_norm": grad_norm}
        for key in extras[0]:
            record[key] = float(np.mean([e[key] for e in extras]))
        return record

    @torch.no_grad()
    def evaluate(self) -> float | None:
        if not self.val_items:
            return None
        self.model.eval()
        bs, total = self.cfg["batch_size"], 0.0
        for start in range(0, len(self.val_items), bs):
            items = self.val_items[start:start + bs]
            loss, _ = self._loss(items, None)
            total += float(loss) * len(items)
        return total / len(self.val_items)

    # -- the run -------------------------------------------------------------------------

    def run(self, resume: Path | None = None) -> RunState:
        """Train until the epochs (or ``max_steps``) are done or early stopping triggers."""
        from tqdm.auto import tqdm

        metrics = self.run_dir / "metrics.jsonl"
        if resume is not None:
            self._restore(resume, metrics)
        elif self.val_items:  # the untrained baseline: reported, compared against, never kept as "best"
            self.state.initial_eval = self.evaluate()
            _append(metrics, {"step": 0, "eval_loss": self.state.initial_eval})
        last = min(self.total_steps, self.cfg["max_steps"] or self.total_steps)
        bar = tqdm(total=last, initial=self.state.step, desc=self.task, unit="step", dynamic_ncols=True)
        every = max(1, last // 20)
        stop = StopSignals(bar.write)
        while self.state.step < last and not self.state.stopped_early:
            step = self.state.step + 1
            record = self.train_step(step)
            self.state.step = step
            self.state.losses.append(record["loss"])
            _append(metrics, record)
            bar.update(1)
            bar.set_postfix(loss=f"{record['loss']:.4f}")
            if step % every == 0 or step == last:
                bar.write(_line(record))
            if (step % self.steps_per_epoch == 0 or step == last
                    or (self.cfg["eval_every"] and step % self.cfg["eval_every"] == 0)):
                self._eval_and_maybe_stop(step, last, metrics, bar.write)
            if self.cfg["checkpoint_every"] and step % self.cfg["checkpoint_every"] == 0:
                self._checkpoint(step)
            if stop.requested and step < last and not self.state.stopped_early:
                self._stop_here(step, stop, bar)
        stop.restore()
        bar.close()
        return self.state

    def _stop_here(self, step: int, stop: StopSignals, bar: Any) -> None:
        if not (self.run_dir / "checkpoints" / f"step-{step:06d}").is_dir():
            self._checkpoint(step)
        stop.restore()
        bar.close()
        raise Stopped(f"stopped at step {step} on request; checkpoint saved: continue with --resume {self.run_dir}")

    def _eval_and_maybe_stop(self, step: int, last: int, metrics: Path, write: Callable[[str], None]) -> None:
        loss = self.evaluate()
        if loss is None:
            return
        st = self.state
        st.last_eval = loss
        _append(metrics, {"step": step, "eval_loss": loss})
        reference = min((x for x in (st.initial_eval, st.best_eval) if x is not None), default=math.inf)
        # After a resume, the step of a best saved past the checkpoint comes round again: the
        # same loss then is that same adapter, and counts as the improvement it was.
        again = step == st.best_step and st.best_eval is not None and loss <= st.best_eval + MIN_DELTA
        if loss < reference - MIN_DELTA or again:
            st.best_eval, st.best_step, st.bad_evals = loss, step, 0
            self._save_best(step, loss)
        else:
            st.bad_evals += 1
        if st.best_step is not None:
            write(f"step {step}: held-out loss {loss:.4f} (best {st.best_eval:.4f} at step {st.best_step})")
        else:
            write(f"step {step}: held-out loss {loss:.4f} (not below the untrained {st.initial_eval:.4f} yet)")
        if self.cfg["patience"] and st.bad_evals >= self.cfg["patience"] and step < last:
            st.stopped_early = True
            write(f"early stop: no held-out improvement in {self.cfg['patience']} evaluations")

    def _save_best(self, step: int, loss: float) -> None:
        path = self.run_dir / BEST_DIR
        (path / BEST_FILE).unlink(missing_ok=True)  # never a record describing another adapter
        self._save_adapter(path)
        (path / BEST_FILE).write_text(json.dumps({"step": step, "eval_loss": loss}) + "\n", encoding="utf-8")

    def _save_adapter(self, path: Path) -> None:
        # save_embedding_layers=False: otherwise PEFT looks the base model up (on the Hub).
        self.model.save_pretrained(str(path), save_embedding_layers=False)

    def _checkpoint(self, step: int) -> None:
        root = self.run_dir / "checkpoints"
        path = root / f"step-{step:06d}"
        tmp = root / f".tmp-step-{step:06d}"  # written aside and renamed: a crash never leaves half a checkpoint
        shutil.rmtree(tmp, ignore_errors=True)
        self._save_adapter(tmp)
        torch.save({"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                    "state": self.state.__dict__, "rng": torch.get_rng_state(), "config": self.cfg},
                   tmp / STATE_FILE)
        shutil.rmtree(path, ignore_errors=True)
        tmp.rename(path)
        for old in sorted(root.glob("step-*"))[: -self.cfg["keep_checkpoints"]]:
            shutil.rmtree(old, ignore_errors=True)

    def _restore(self, path: Path, metrics: Path) -> None:
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        saved = torch.load(path / STATE_FILE, weights_only=False)
        set_peft_model_state_dict(self.model, load_file(str(path / "adapter_model.safetensors")))
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
        self._apply_lr()
        self.state = RunState(**saved["state"])
        if self.state.best_step == 0:  # a checkpoint from before the baseline stopped counting as "best"
            self.state.best_eval = self.state.best_step = None
        best = _read_best(self.run_dir / BEST_DIR)
        if best is not None and (self.state.best_eval is None or best[1] < self.state.best_eval):
            # saved after this checkpoint by the interrupted run: it is the adapter on disk
            self.state.best_step, self.state.best_eval = best
        torch.set_rng_state(saved["rng"])
        if metrics.exists():  # drop what the interrupted run logged after this checkpoint
            kept = [ln for ln in metrics.read_text().splitlines() if json.loads(ln)["step"] <= self.state.step]
            metrics.write_text("".join(f"{ln}\n" for ln in kept))
        self.echo(f"resumed from {path} at step {self.state.step}")


    def _apply_lr(self) -> None:
        """Make the schedule follow this run's ``lr`` and step count: the scheduler state from a
        checkpoint holds the old peak (so ``--lr`` on ``--resume`` would be silently ignored)."""
        lr, sched = self.cfg["lr"], self.scheduler
        sched.base_lrs = [lr for _ in self.optimizer.param_groups]
        for group, fn in zip(self.optimizer.param_groups, sched.lr_lambdas, strict=True):
            group["initial_lr"], group["lr"] = lr, lr * fn(sched.last_epoch)
        sched._last_lr = [group["lr"] for group in self.optimizer.param_groups]


def _read_best(path: Path) -> tuple[int, float] | None:
    """(step, held-out loss) of the adapter in ``best/``, or None when there is none."""
    try:
        data = json.loads((path / BEST_FILE).read_text(encoding="utf-8"))
        step, loss = int(data["step"]), float(data["eval_loss"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (step, loss) if step >= 1 and math.isfinite(loss) else None


def _append(path: Path, record: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({**record, "time": round(time.time(), 3)}) + "\n")


def _line(record: dict[str, Any]) -> str:
    parts = [f"step {record['step']}", f"loss {record['loss']:.4f}", f"lr {record['lr']:.2e}",
             f"grad {record['grad_norm']:.3f}"]
    if "reward_margin" in record:
        parts += [f"margin {record['reward_margin']:.3f}", f"acc {record['reward_accuracy']:.2f}"]
    return " | ".join(parts)
