"""Engine fixtures: the tiny model is built once per session and linked into each test's data dir."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TD_TORCH_THREADS", "2")

from training_dashboard.engine.tiny import TINY_DIRNAME, ensure_tiny_model, tiny_model_dir  # noqa: E402


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_tiny_model(tmp_path_factory.mktemp("tiny-data"))


@pytest.fixture(autouse=True)
def _link_tiny_model(request: pytest.FixtureRequest, tiny_model_path: Path) -> None:
    """Tests that use ``settings`` see the session's tiny model instead of building their own."""
    if "settings" not in request.fixturenames:
        return
    settings = request.getfixturevalue("settings")
    target = tiny_model_dir(settings.resolved_data_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        target.symlink_to(tiny_model_path, target_is_directory=True)
    assert target.name == TINY_DIRNAME


@pytest.fixture(scope="session")
def runtime(tiny_model_path: Path):  # type: ignore[no-untyped-def]
    """One loaded tiny base model for runtime-level tests (adapters are switched on it)."""
    from training_dashboard.engine.loader import load_base_model
    from training_dashboard.engine.runtime import MusicGenRuntime

    base = load_base_model("tiny", tiny_model_path.parent.parent, device="cpu")
    return MusicGenRuntime(base, max_adapters=2)


def make_peft_adapter(runtime, path: Path, seed: int = 0, scale: float = 0.5,  # type: ignore[no-untyped-def]
                      base_model: str = "tiny", zero_b: bool = False) -> Path:
    """Save a real PEFT LoRA for the tiny model with random (non-zero) LoRA-B weights.

    Built on a freshly loaded base (the shared runtime's has adapters injected), wrapped
    exactly as training wraps it.
    """
    import torch
    from peft import get_peft_model
    from transformers import MusicgenForConditionalGeneration

    from training_dashboard.training.lora import lora_config

    model = MusicgenForConditionalGeneration.from_pretrained(str(runtime.base.model.name_or_path))
    peft_model = get_peft_model(model, lora_config(rank=4, alpha=8, dropout=0.0))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name and not zero_b:
                param.copy_(torch.randn(param.shape, generator=gen) * scale)
    peft_model.peft_config["default"].base_model_name_or_path = base_model
    peft_model.save_pretrained(str(path), save_embedding_layers=False)
    return path
