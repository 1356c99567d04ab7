"""Reading a dataset export (JSONL or Hugging Face format) into training examples.

Both formats carry ``td_export.json`` (dataset id, type, manifest sha256) next to the
manifest. JSONL rows point at ``audio/<id>.wav``; the Hugging Face format stores the WAV
bytes in ``datasets.Audio(decode=False)`` columns, decoded here with soundfile (datasets 5
would decode with torchcodec, which we do not need).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from training_dashboard.engine.prompting import conditioning_text

INFO_FILE = "td_export.json"
MANIFEST_FILE = "manifest.jsonl"
TASK_TYPES = {"sft": "supervised", "dpo": "preference"}


class DataError(ValueError):
    """The export cannot be used for this run; the message says why and what to do."""


@dataclass
class Export:
    path: Path
    info: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    audio: dict[str, np.ndarray] = field(default_factory=dict)  # manifest audio path -> mono float32

    @property
    def dataset_id(self) -> int | None:
        return self.info.get("dataset_id")

    @property
    def manifest_sha256(self) -> str | None:
        return self.info.get("manifest_sha256")


def read_info(path: Path) -> dict[str, Any]:
    """Read ``td_export.json``; raise :class:`DataError` when ``path`` is not an export."""
    if not path.is_dir():
        raise DataError(f"Dataset directory not found: {path}")
    try:
        info = json.loads((path / INFO_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DataError(f"{path} is not a Training Dashboard export ({INFO_FILE} is missing). "
                        f"Export the dataset from the Datasets tab and pass the export directory.") from exc
    except (OSError, ValueError) as exc:
        raise DataError(f"{path / INFO_FILE} is unreadable: {exc}") from exc
    if not isinstance(info, dict) or info.get("type") not in ("supervised", "preference"):
        raise DataError(f"{path / INFO_FILE} has no valid 'type' (supervised or preference)")
    return info


def load_export(path: Path, task: str, sample_rate: int, max_seconds: float) -> Export:
    """Load and check an export for ``task`` (``sft`` or ``dpo``), decoding all its audio.

    Args:
        path: the export directory.
        task: ``sft`` needs a supervised export, ``dpo`` a preference export.
        sample_rate: the model's rate; clips at another rate are resampled.
        max_seconds: clips are cut to this length.

    Raises:
        DataError: not an export, wrong type for the task, empty, or unreadable audio.
    """
    path = Path(path).expanduser().resolve()
    info = read_info(path)
    if info["type"] != TASK_TYPES[task]:
        other = "dpo" if task == "sft" else "sft"
        raise DataError(f"{path} is a {info['type']} export; `{task}` needs a {TASK_TYPES[task]} dataset "
                        f"(train this one with `{other}`).")
    columns = ["audio"] if task == "sft" else ["chosen", "rejected"]
    export = Export(path=path, info=info)
    if info.get("format") == "huggingface":
        raw = _read_hf(path, columns)
    else:
        raw = _read_jsonl(path, columns)
    if not raw:
        raise DataError(f"{path} holds no samples: nothing to train on.")
    for row, blobs in raw:
        for col in columns:
            key = row[col]
            if key not in export.audio:
                export.audio[key] = _decode(blobs[col], sample_rate, max_seconds, f"{path}/{key}")
        export.rows.append(row)
    return export


def example_text(row: dict[str, Any]) -> str:
    """The conditioning text of a manifest row (same function as generation)."""
    attributes = row.get("attributes") or {}
    if isinstance(attributes, str):  # the HF format stores nested values as JSON strings
        attributes = json.loads(attributes)
    return conditioning_text(row.get("prompt") or "", attributes)


def _read_jsonl(path: Path, columns: list[str]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    manifest = path / MANIFEST_FILE
    if not manifest.is_file():
        raise DataError(f"{path} has no {MANIFEST_FILE}: the export is incomplete; export the dataset again.")
    out = []
    with manifest.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise DataError(f"{manifest}:{number} is not valid JSON: {exc}") from exc
            missing = [c for c in columns if not row.get(c)]
            if missing:
                raise DataError(f"{manifest}:{number} lacks {', '.join(missing)}: is this the right kind of export?")
            out.append((row, {c: path / row[c] for c in columns}))
    return out


def _read_hf(path: Path, columns: list[str]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    import datasets

    try:
        table = datasets.load_from_disk(str(path))
    except Exception as exc:  # noqa: BLE001 - any loader failure is a data problem for the user
        raise DataError(f"{path} is not a readable Hugging Face dataset: {exc}") from exc
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise DataError(f"{path} has no column(s) {', '.join(missing)}: is this the right kind of export?")
    for col in columns:
        table = table.cast_column(col, datasets.Audio(decode=False))
    out = []
    for record in table:
        row = dict(record)
        blobs = {c: row[c]["bytes"] for c in columns}
        for c in columns:
            row[c] = row.get(f"{c}_path") or row[c].get("path") or f"{c}-{len(out)}"
        out.append((row, blobs))
    return out


def _decode(source: Path | bytes, sample_rate: int, max_seconds: float, label: str) -> np.ndarray:
    import soundfile as sf

    try:
        data, rate = sf.read(io.BytesIO(source) if isinstance(source, bytes) else str(source), dtype="float32",
                             always_2d=True)
    except Exception as exc:  # noqa: BLE001 - soundfile raises several types
        raise DataError(f"Cannot read audio {label}: {exc}") from exc
    mono = data.mean(axis=1)
    if rate != sample_rate:  # linear resampling is enough for the occasional foreign clip
        n = int(round(len(mono) * sample_rate / rate))
        mono = np.interp(np.linspace(0, len(mono) - 1, n), np.arange(len(mono)), mono).astype(np.float32)
    mono = mono[: int(max_seconds * sample_rate)]
    if len(mono) == 0:
        raise DataError(f"Audio {label} is empty")
    return mono
