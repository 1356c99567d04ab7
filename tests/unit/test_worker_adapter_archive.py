"""The adapter archive between the app and a worker: what the app packs is exactly what a worker
unpacks, and a worker unpacks nothing else (paths, links, extra or missing files are refused)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from tests.factories import make_lora_dir
from training_dashboard import schemas
from training_dashboard.config import Settings
from training_dashboard.db import Database
from training_dashboard.db.migrate import upgrade
from training_dashboard.engine.runtime import AdapterError
from training_dashboard.services import adapter_archive, adapters
from training_dashboard.worker.generation import extract_adapter


@pytest.fixture
def registered(tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path / "app", base_model="tiny", worker=False)
    settings.ensure_dirs()
    db = Database(settings.db_url)
    upgrade(db)
    root = settings.resolved_adapter_roots[0]
    directory = make_lora_dir(root, "calm")
    adapter = adapters.register_adapter(db, schemas.AdapterCreate(name="calm", version="1.0.0", path=str(directory)),
                                        [root])
    yield db, adapter.id, directory
    db.dispose()


def _tar(*members: tuple[tarfile.TarInfo, bytes | None]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def _file(name: str, data: bytes = b"{}") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def test_the_app_archive_unpacks_to_the_same_files(registered, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, adapter_id, directory = registered
    archive, key = adapter_archive.adapter_archive(db, adapter_id)
    try:
        assert key == adapter_archive.adapter_key(directory)
        target = tmp_path / "worker" / "adapter-cache" / f"{adapter_id}-{key}"
        extract_adapter(archive.read_bytes(), target)
    finally:
        archive.unlink()
    assert sorted(p.name for p in target.iterdir()) == ["adapter_config.json", "adapter_model.safetensors"]
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        assert (target / name).read_bytes() == (directory / name).read_bytes()
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temp dir left behind


def _link(name: str, kind: bytes) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, "/etc/passwd"
    return info, None


def _dir(name: str) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    return info, None


BAD = {
    "absolute path": ([_file("/tmp/adapter_config.json"), _file("adapter_model.safetensors")], "absolute paths"),
    "parent path": ([_file("../adapter_config.json"), _file("adapter_model.safetensors")], "absolute paths and '..'"),
    "nested path": ([_file("x/adapter_config.json"), _file("adapter_model.safetensors")], "unexpected member"),
    "symlink": ([_link("adapter_config.json", tarfile.SYMTYPE), _file("adapter_model.safetensors")],
                "no links or devices"),
    "hard link": ([_file("adapter_model.safetensors"), _link("adapter_config.json", tarfile.LNKTYPE)],
                  "no links or devices"),
    "directory": ([_dir("adapter_config.json"), _file("adapter_model.safetensors")], "lacks adapter_config.json"),
    "extra file": ([_file("adapter_config.json"), _file("adapter_model.safetensors"), _file("README.md")],
                   "more than 2 entries"),
    "other file": ([_file("adapter_config.json"), _file("README.md")], r"unexpected member\(s\) \['README.md'\]"),
    "duplicate": ([_file("adapter_config.json"), _file("adapter_config.json")], "unexpected member"),
    "missing weights": ([_file("adapter_config.json")], "lacks adapter_model.safetensors"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_worker_refuses_anything_but_the_adapter_files(case: str, tmp_path: Path) -> None:
    members, words = BAD[case]
    target = tmp_path / "adapter-cache" / "1-abcdef0123456789"
    with pytest.raises(AdapterError, match=words):
        extract_adapter(_tar(*members), target)
    assert list(target.parent.iterdir()) == []
    assert not (tmp_path / "tmp").exists() and not Path("/tmp/adapter_config.json").exists()


def test_a_worker_refuses_what_is_not_a_tar(tmp_path: Path) -> None:
    target = tmp_path / "adapter-cache" / "1-abcdef0123456789"
    for junk in (b"", b"not a tar at all" * 100):
        with pytest.raises(AdapterError, match="not a readable tar|empty archive"):
            extract_adapter(junk, target)
    assert list(target.parent.iterdir()) == []
