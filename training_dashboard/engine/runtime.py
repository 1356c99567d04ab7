"""One loaded base model, LoRA adapters hot-swapped on it, and seeded batch generation.

Adapters are loaded with PEFT onto the full MusicGen model, the same wrapping the
training CLI uses, and switched per job with ``set_adapter``; the base model is the
adapter disabled. Each sample of a batch draws from its own seeded generator, so its
audio depends on its seed rather than on the global RNG.
"""

from __future__ import annotations

import copy
import math
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import LogitsProcessor, LogitsProcessorList, StoppingCriteria, StoppingCriteriaList

from training_dashboard.engine.loader import BaseModel
from training_dashboard.files.adapter_files import WEIGHTS_FILE, adapter_base_model, verify_adapter_dir

_MASKED = -1e4  # finite, so the guidance arithmetic applied after our sampler stays NaN-free


class AdapterError(ValueError):
    """An adapter cannot be used with this base model; the message says why."""


class Cancelled(Exception):
    """Generation was stopped between decoding steps."""


@dataclass(frozen=True)
class SamplingParams:
    duration: float = 5.0
    temperature: float = 1.0
    top_k: int = 250
    top_p: float = 0.0
    guidance_scale: float = 3.0

    @classmethod
    def from_job(cls, params: dict[str, Any]) -> SamplingParams:
        known = {k: params[k] for k in cls.__dataclass_fields__ if params.get(k) is not None}
        return cls(**known)


class MusicGenRuntime:
    """The base model plus a bounded LRU cache of LoRA adapters loaded onto it."""

    def __init__(self, base: BaseModel, max_adapters: int = 4) -> None:
        self.base = base
        self.max_adapters = max(1, max_adapters)
        self.peft: Any = None  # the PeftModel once the first adapter is loaded
        self._adapters: OrderedDict[tuple[str, int, int], str] = OrderedDict()
        self._counter = 0

    @property
    def loaded_adapters(self) -> list[str]:
        return [key[0] for key in self._adapters]

    def check_adapter(self, path: str | Path) -> None:
        """Refuse an adapter that is unusable or trained for another base model (cheap, no loading).

        Raises:
            AdapterError: with a readable message.
        """
        try:
            verify_adapter_dir(path)
            trained_for = adapter_base_model(path)
        except ValueError as exc:
            raise AdapterError(str(exc)) from exc
        if trained_for != self.base.name:
            raise AdapterError(
                f"Adapter at {path} was trained for base model {trained_for!r}, but this server runs "
                f"{self.base.name!r}: retrain it on this base model or start the server with "
                f"TD_BASE_MODEL={trained_for}"
            )

    @contextmanager
    def using(self, adapter_path: str | Path | None) -> Iterator[None]:
        """Make ``adapter_path`` (or the bare base model when None) active for the block."""
        if adapter_path is None:
            with self.peft.disable_adapter() if self.peft is not None else nullcontext():
                yield
            return
        name = self._ensure_loaded(Path(adapter_path))
        self.peft.set_adapter(name)
        yield

    def _ensure_loaded(self, path: Path) -> str:
        from peft import PeftModel

        path = path.resolve()
        stat = (path / WEIGHTS_FILE).stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)  # a re-saved adapter is loaded afresh
        if key in self._adapters:
            self._adapters.move_to_end(key)
            return self._adapters[key]
        self.check_adapter(path)
        self._counter += 1
        name = f"adapter{self._counter}"
        if self.peft is None:
            self.peft = PeftModel.from_pretrained(self.base.model, str(path), adapter_name=name)
        else:
            self.peft.load_adapter(str(path), adapter_name=name)
        try:
            verify_loaded(self.peft, name, path)
        except AdapterError:
            self.peft.delete_adapter(name) if len(self.peft.peft_config) > 1 else None
            raise
        self.peft.eval()
        self._adapters[key] = name
        while len(self._adapters) > self.max_adapters:
            _, old = self._adapters.popitem(last=False)
            self.peft.set_adapter(name)  # never delete the active adapter
            self.peft.delete_adapter(old)
        return name

    def generate(self, text: str, seeds: list[int], params: SamplingParams,
                 on_step: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Generate ``len(seeds)`` clips for one prompt in one batch.

        Args:
            text: the conditioning text (see ``conditioning_text``).
            seeds: one seed per sample; sample i's tokens are drawn from a generator seeded with seeds[i].
            params: duration and sampling parameters.
            on_step: called as ``on_step(step, total)`` after each decoding step; raise
                :class:`Cancelled` from it to stop.

        Returns:
            float32 array (len(seeds), samples) of exactly ``round(duration * sample_rate)`` samples.
        """
        base = self.base
        frames = max(1, math.ceil(params.duration * base.frame_rate))
        total = frames + base.num_codebooks - 1
        inputs = base.processor(text=[text] * len(seeds), padding=True, return_tensors="pt").to(base.device)
        config = copy.deepcopy(base.model.generation_config)
        config.update(do_sample=False, temperature=None, top_k=None, top_p=None, max_new_tokens=total,
                      max_length=None, guidance_scale=params.guidance_scale)
        sampler = _SeededSampler(seeds, base.num_codebooks, params, base.device)
        hook = _StepHook(total, on_step)
        with torch.inference_mode():
            audio = base.model.generate(**inputs, generation_config=config,
                                        logits_processor=LogitsProcessorList([sampler]),
                                        stopping_criteria=StoppingCriteriaList([hook]))
        wave = audio[:, 0, :].float().cpu().numpy()
        want = round(params.duration * base.sample_rate)
        if wave.shape[1] < want:
            wave = np.pad(wave, ((0, 0), (0, want - wave.shape[1])))
        return wave[:, :want]


def verify_loaded(peft_model: Any, name: str, path: Path) -> None:
    """Check that every tensor of the adapter file landed in the model, and is not a no-op.

    Raises:
        AdapterError: keys that did not match (e.g. trained on ``model.decoder`` while we
            load onto the full model), or all LoRA-B zero after loading.
    """
    from peft import get_peft_model_state_dict
    from safetensors.torch import load_file

    saved = load_file(str(path / WEIGHTS_FILE))
    live = get_peft_model_state_dict(peft_model, adapter_name=name, save_embedding_layers=False)
    missing = sorted(set(live) - set(saved))
    unexpected = sorted(set(saved) - set(live))
    if missing or unexpected:
        example = (unexpected or missing)[0]
        raise AdapterError(
            f"Adapter at {path} does not fit this model: {len(unexpected)} of its tensors match no module and "
            f"{len(missing)} LoRA weights were not loaded (e.g. {example}). It was probably trained on a "
            f"different model or wrapping."
        )
    differs = [k for k in saved if not torch.equal(saved[k].to(live[k].dtype), live[k].cpu())]
    if differs:
        raise AdapterError(f"Adapter at {path}: {len(differs)} tensors did not load correctly (e.g. {differs[0]})")
    if all(not torch.any(v) for k, v in live.items() if ".lora_B." in k):
        raise AdapterError(f"Adapter at {path} is a no-op after loading: all LoRA-B weights are zero")


class _SeededSampler(LogitsProcessor):
    """Temperature/top-k/top-p sampling with one torch.Generator per sample.

    ``generate`` runs greedy decoding; this processor samples and returns logits that
    make the sampled token the argmax. MusicGen appends its guidance processor after
    ours, so when we see the doubled (conditional + unconditional) batch we apply the
    guidance ourselves and return both halves equal, which makes that later step a no-op.
    """

    def __init__(self, seeds: list[int], num_codebooks: int, params: SamplingParams, device: str) -> None:
        self.k = num_codebooks
        self.params = params
        self.generators = [torch.Generator(device=device).manual_seed(int(s)) for s in seeds]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        rows = len(self.generators) * self.k
        doubled = scores.shape[0] == 2 * rows
        logits = scores.float()
        if doubled:
            cond, uncond = logits.split(rows, dim=0)
            logits = uncond + (cond - uncond) * self.params.guidance_scale
        logits = logits / self.params.temperature
        if 0 < self.params.top_k < logits.shape[-1]:
            kth = torch.topk(logits, self.params.top_k, dim=-1).values[..., -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if 0 < self.params.top_p < 1:
            ordered, order = torch.sort(logits, descending=True, dim=-1)
            cum = ordered.softmax(-1).cumsum(-1)
            drop = cum - ordered.softmax(-1) > self.params.top_p  # always keeps the top token
            logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
        probs = logits.softmax(-1)
        tokens = torch.cat([
            torch.multinomial(probs[i * self.k:(i + 1) * self.k], 1, generator=gen)
            for i, gen in enumerate(self.generators)
        ])
        out = torch.full_like(logits, _MASKED).scatter_(1, tokens, 0.0).to(scores.dtype)
        return torch.cat([out, out]) if doubled else out


class _StepHook(StoppingCriteria):
    """Reports each decoding step; never stops generation by itself."""

    def __init__(self, total: int, on_step: Callable[[int, int], None] | None) -> None:
        self.total, self.on_step, self.step = total, on_step, 0

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        self.step += 1
        if self.on_step is not None:
            self.on_step(self.step, self.total)
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
