"""The loaded model: seeded generation, progress, cancel, adapter hot-swap and its checks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.engine.conftest import make_peft_adapter
from training_dashboard.engine.runtime import AdapterError, Cancelled, SamplingParams

PARAMS = SamplingParams(duration=1.0)


def test_generate_length_seeds_and_progress(runtime):
    steps: list[tuple[int, int]] = []
    waves = runtime.generate("calm piano", [5, 6, 7], PARAMS, on_step=lambda s, t: steps.append((s, t)))
    assert waves.shape == (3, runtime.base.sample_rate) and waves.dtype == np.float32
    total = steps[0][1]
    assert [s for s, _ in steps] == list(range(1, total + 1))  # reported at every decoding step
    again = runtime.generate("calm piano", [5, 6, 7], PARAMS)
    assert np.array_equal(waves, again)  # same seeds + params: bit-identical batch
    assert not np.allclose(waves[0], waves[1], atol=1e-4)  # different seeds: different audio
    alone = runtime.generate("calm piano", [6], PARAMS)
    # Each sample draws from its own seeded generator: alone == inside the batch, up to
    # float rounding of the batched matmuls.
    np.testing.assert_allclose(alone[0], waves[1], atol=1e-6)


def test_sampling_parameters_change_the_audio(runtime):
    base = runtime.generate("rock", [1], PARAMS)
    for change in ({"temperature": 0.3}, {"top_k": 5}, {"top_p": 0.5}, {"guidance_scale": 1.0}):
        other = runtime.generate("rock", [1], SamplingParams(duration=1.0, **change))
        assert not np.array_equal(base, other), change
    assert not np.array_equal(base, runtime.generate("jazz", [1], PARAMS))  # the prompt conditions it


def test_cancel_between_steps(runtime):
    seen = []

    def stop_at_ten(step: int, total: int) -> None:
        seen.append(step)
        if step == 10:
            raise Cancelled()

    with pytest.raises(Cancelled):
        runtime.generate("x", [1, 2], SamplingParams(duration=5.0), on_step=stop_at_ten)
    assert seen[-1] == 10


def test_adapter_changes_audio_and_disabling_restores_base(runtime, tmp_path):
    first = make_peft_adapter(runtime, tmp_path / "a", seed=1)
    second = make_peft_adapter(runtime, tmp_path / "b", seed=2)
    with runtime.using(None):
        base = runtime.generate("lofi", [42], PARAMS)
    with runtime.using(first):
        with_first = runtime.generate("lofi", [42], PARAMS)
    with runtime.using(second):
        with_second = runtime.generate("lofi", [42], PARAMS)
    with runtime.using(None):
        base_again = runtime.generate("lofi", [42], PARAMS)
    with runtime.using(first):
        first_again = runtime.generate("lofi", [42], PARAMS)
    assert not np.allclose(base, with_first, atol=1e-4)
    assert not np.allclose(with_first, with_second, atol=1e-4)
    assert np.array_equal(base, base_again)  # adapter disabled == the base model, bit for bit
    assert np.array_equal(with_first, first_again)  # switching back (cached) reproduces it


def test_adapter_cache_is_bounded(runtime, tmp_path):
    paths = [make_peft_adapter(runtime, tmp_path / f"a{i}", seed=i) for i in range(3)]
    for path in paths:
        with runtime.using(path):
            pass
    assert len(runtime.loaded_adapters) == runtime.max_adapters == 2
    assert str(paths[0].resolve()) not in runtime.loaded_adapters
    assert len(runtime.peft.peft_config) == 2


def test_incompatible_or_noop_adapters_are_refused(runtime, tmp_path):
    other = make_peft_adapter(runtime, tmp_path / "other", base_model="facebook/musicgen-small")
    with pytest.raises(AdapterError, match="trained for base model 'facebook/musicgen-small'"):
        with runtime.using(other):
            pass
    noop = make_peft_adapter(runtime, tmp_path / "noop", zero_b=True)
    with pytest.raises(AdapterError, match="no-op"):
        runtime.check_adapter(noop)


def test_adapter_whose_keys_do_not_match_is_refused(runtime, tmp_path):
    """An adapter trained on ``model.decoder`` alone has other key prefixes: never silently ignored."""
    from safetensors.torch import load_file, save_file

    path = make_peft_adapter(runtime, tmp_path / "decoder-only", seed=3)
    weights = path / "adapter_model.safetensors"
    tensors = load_file(str(weights))
    save_file({k.replace("base_model.model.decoder.", "base_model.model."): v for k, v in tensors.items()},
              str(weights))
    config = json.loads((path / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "tiny"
    with pytest.raises(AdapterError, match="does not fit this model"):
        with runtime.using(path):
            pass
