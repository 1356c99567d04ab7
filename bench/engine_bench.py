"""Engine figures on the tiny model (CPU): generation time, batch cost, adapter switch vs
base load, SFT step time. Not a test: numbers depend on the machine.

    TD_TORCH_THREADS=2 HF_HUB_OFFLINE=1 python bench/engine_bench.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def timed(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    """Median seconds of ``repeats`` calls after one warm-up call."""
    fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    import numpy as np
    import torch
    from peft import get_peft_model

    from training_dashboard.engine.loader import configure_torch, load_base_model
    from training_dashboard.engine.runtime import MusicGenRuntime, SamplingParams
    from training_dashboard.engine.tiny import ensure_tiny_model
    from training_dashboard.training.batches import encode_clip, make_batch, sft_loss
    from training_dashboard.training.lora import lora_config

    device = configure_torch()
    data = Path(tempfile.mkdtemp(prefix="td-bench-"))
    start = time.perf_counter()
    ensure_tiny_model(data)
    build_s = time.perf_counter() - start
    load_s = timed(lambda: load_base_model("tiny", data, device=device), args.repeats)
    runtime = MusicGenRuntime(load_base_model("tiny", data, device=device), max_adapters=4)
    p5 = SamplingParams(duration=5.0)
    gen1 = timed(lambda: runtime.generate("calm piano", [1], p5), args.repeats)
    gen4 = timed(lambda: runtime.generate("calm piano", [1, 2, 3, 4], p5), args.repeats)

    adapters = []
    for i in range(2):  # two real PEFT adapters with non-zero LoRA-B
        fresh = load_base_model("tiny", data, device=device).model
        peft_model = get_peft_model(fresh, lora_config(rank=16, alpha=32, dropout=0.0))
        with torch.no_grad():
            for name, param in peft_model.named_parameters():
                if "lora_B" in name:
                    param.normal_(0, 0.1)
        peft_model.peft_config["default"].base_model_name_or_path = "tiny"
        path = data / f"adapter{i}"
        peft_model.save_pretrained(str(path), save_embedding_layers=False)
        adapters.append(path)
    first_load = time.perf_counter()
    with runtime.using(adapters[0]):
        pass
    first_load = time.perf_counter() - first_load
    second_load = time.perf_counter()
    with runtime.using(adapters[1]):
        pass
    second_load = time.perf_counter() - second_load

    def switch() -> None:
        for path in (adapters[0], None, adapters[1]):
            with runtime.using(path):
                pass

    switch_s = timed(switch, args.repeats * 4) / 3

    base = load_base_model("tiny", data, device=device)
    model = get_peft_model(base.model, lora_config(rank=16, alpha=32, dropout=0.05))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    rng = np.random.default_rng(0)
    codes = [encode_clip(base, (0.3 * rng.standard_normal(64000)).astype("float32")) for _ in range(4)]
    batch = make_batch(base, ["calm piano"] * 4, codes)

    def sft_step() -> None:
        loss = sft_loss(model, batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    model.train()
    step_s = timed(sft_step, args.repeats * 2)
    figures = {
        "device": device, "torch_threads": torch.get_num_threads(),
        "tiny_build_s": round(build_s, 2), "base_model_load_s": round(load_s, 3),
        "generate_5s_batch1_s": round(gen1, 3), "generate_5s_batch4_s": round(gen4, 3),
        "per_sample_batch1_s": round(gen1, 3), "per_sample_batch4_s": round(gen4 / 4, 3),
        "adapter_first_load_s": round(first_load, 3), "adapter_second_load_s": round(second_load, 3),
        "adapter_switch_cached_s": round(switch_s, 4),
        "sft_step_batch4_2s_clips_s": round(step_s, 3),
    }
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
