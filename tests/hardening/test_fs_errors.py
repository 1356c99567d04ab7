"""Permission denied, for real: a server that obeys file modes (root without its override, see
``ApiServer(obey_file_modes=True)``) meets unreadable adapters and clips. Each answer is a clear
4xx that says what is wrong, never a 500 or a broken stream."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest

from tests.factories import make_lora_dir
from tests.hardening.server import ApiServer
from tests.hardening.test_crash import _seed_clips
from training_dashboard import schemas
from training_dashboard.services.datasets import snapshot_dataset
from training_dashboard.services.feedback import create_rating

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def locked(tmp_path_factory):  # type: ignore[no-untyped-def]
    """A data dir with unreadable adapter parts and one unreadable clip, and a server on it."""
    data_dir = tmp_path_factory.mktemp("locked") / "data"
    db, settings, ids = _seed_clips(data_dir, 3)
    for audio_id in ids:
        create_rating(db, schemas.FeedbackCreate(audio_id=audio_id, rating=5))
    dataset = snapshot_dataset(db, schemas.DatasetCreate(name="locked clip"))
    db.dispose()
    root = settings.resolved_adapter_roots[0]
    make_lora_dir(root, "readable")
    make_lora_dir(root, "locked-dir").chmod(0)
    (make_lora_dir(root, "locked-config") / "adapter_config.json").chmod(0)
    (make_lora_dir(root, "locked-weights") / "adapter_model.safetensors").chmod(0)
    clip = settings.audio_dir / "factory-1-1.wav"
    clip.chmod(0)
    server = ApiServer(data_dir, obey_file_modes=True).start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            yield SimpleNamespace(client=c, ids=ids, dataset_id=dataset.id)
    finally:
        server.stop()
        for path in (root / "locked-dir", clip):
            path.chmod(0o755)  # so pytest can clean up
    log = server.log.read_text()
    assert "Traceback" not in log, log[-3000:]


@pytest.mark.parametrize("name", ["locked-dir", "locked-config", "locked-weights"])
def test_unreadable_adapter_is_a_400_saying_permission_denied(locked, name):  # type: ignore[no-untyped-def]
    r = locked.client.post("/adapters", json={"name": name, "path": name})
    assert r.status_code == 400, r.text
    assert "permission denied" in r.json()["detail"].lower(), r.text
    assert "not valid JSON" not in r.json()["detail"], r.text  # not mistaken for a corrupt config
    assert locked.client.post("/adapters", json={"name": "ok", "path": "readable"}).status_code in (201, 409)


def test_unreadable_clip_stream_is_a_404_saying_permission_denied(locked):  # type: ignore[no-untyped-def]
    r = locked.client.get(f"/audio/{locked.ids[1]}/stream")
    assert r.status_code == 404 and "permission denied" in r.json()["detail"].lower(), r.text
    assert locked.client.get(f"/audio/{locked.ids[0]}/stream").status_code == 200


def test_unreadable_clip_export_is_a_400(locked):  # type: ignore[no-untyped-def]
    r = locked.client.post(f"/datasets/{locked.dataset_id}/export", json={"format": "huggingface"})
    assert r.status_code == 400 and "cannot be read" in r.json()["detail"], r.text
    assert locked.client.get(f"/datasets/{locked.dataset_id}").json()["exports"] == []
