"""files/adapter_files: the torch-free adapter checks the API runs at registration."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.factories import make_lora_dir
from training_dashboard.files.adapter_files import adapter_base_model, verify_adapter_dir


def test_valid_adapter_passes_and_names_its_base(tmp_path):
    path = make_lora_dir(tmp_path, "ok", base_model="tiny")
    assert verify_adapter_dir(path) is None
    assert adapter_base_model(path) == "tiny"


@pytest.mark.parametrize("breakage, message", [
    ("no_dir", "not found"),
    ("no_config", "adapter_config.json is missing"),
    ("bad_json", "not valid JSON"),
    ("not_lora", "Only LoRA"),
    ("no_weights", "no adapter_model.safetensors"),
    ("corrupt_weights", "not a readable safetensors"),
    ("zero_b", "no-op"),
])
def test_broken_adapters_are_reported(tmp_path, breakage, message):
    path = make_lora_dir(tmp_path, "a", zero_b=breakage == "zero_b")
    if breakage == "no_dir":
        path = tmp_path / "missing"
    elif breakage == "no_config":
        (path / "adapter_config.json").unlink()
    elif breakage == "bad_json":
        (path / "adapter_config.json").write_text("{not json")
    elif breakage == "not_lora":
        (path / "adapter_config.json").write_text('{"peft_type": "IA3", "r": 4}')
    elif breakage == "no_weights":
        (path / "adapter_model.safetensors").unlink()
    elif breakage == "corrupt_weights":
        (path / "adapter_model.safetensors").write_bytes(b"\xff" * 64)
    with pytest.raises(ValueError, match=message):
        verify_adapter_dir(path)


def test_files_engine_and_embedded_worker_import_no_torch():
    # The app imports these at start-up (the embedded worker thread loads torch when it runs).
    code = ("import sys, training_dashboard.files.adapter_files, training_dashboard.files.archives, "
            "training_dashboard.engine, training_dashboard.engine.generate, training_dashboard.worker.embedded; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
