"""A blind evaluation generated for real: the normal worker serves its jobs with the tiny model
and a real PEFT adapter that is not active (an evaluation may precede activation)."""

from __future__ import annotations

import numpy as np
import soundfile as sf
from sqlalchemy import select

from tests.engine.conftest import make_peft_adapter
from training_dashboard import schemas
from training_dashboard.db.models import AudioSample, EvaluationPair
from training_dashboard.services import adapters, evaluations
from training_dashboard.services.prompts import create_prompt
from training_dashboard.worker.embedded import EmbeddedWorker


def test_worker_generates_both_sides_with_the_same_seed(settings, db, runtime):
    path = make_peft_adapter(runtime, settings.resolved_adapter_roots[0] / "cand", seed=3)
    adapter = adapters.register_adapter(db, schemas.AdapterCreate(name="cand", path=str(path)),
                                        settings.resolved_adapter_roots)
    assert not adapter.is_active
    for i in range(5):
        create_prompt(db, schemas.PromptCreate(text=f"prompt {i}"))
    evaluation_id = evaluations.create_evaluation(
        db, schemas.EvaluationCreate(candidate_id=adapter.id, num_prompts=5, seed=17, duration=0.5),
        settings.base_model)
    worker = EmbeddedWorker(settings, db)
    for _ in range(10):
        assert worker.process_next_job()
    assert not worker.process_next_job()
    detail = evaluations.get_evaluation(db, evaluation_id)
    assert detail.status == "voting" and detail.pairs_ready == 5 and detail.pairs_failed == 0
    with db.session() as session:
        pairs = list(session.scalars(select(EvaluationPair).where(EvaluationPair.evaluation_id == evaluation_id)))
        clips = {s.id: s for s in session.scalars(select(AudioSample))}
    for pair in pairs:
        cand, base = clips[pair.candidate_audio_id], clips[pair.baseline_audio_id]
        assert cand.adapter_id == adapter.id and base.adapter_id is None
        assert cand.seed == base.seed == pair.seed and cand.prompt_id == base.prompt_id == pair.prompt_id
        a = sf.read(str(settings.resolved_data_dir / cand.file_path), dtype="int16")[0]
        b = sf.read(str(settings.resolved_data_dir / base.file_path), dtype="int16")[0]
        assert len(a) == len(b) == 16000 and not np.array_equal(a, b)  # the adapter was applied
