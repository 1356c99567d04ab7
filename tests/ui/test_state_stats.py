from __future__ import annotations

from tests.factories import make_clips
from tests.ui.conftest import run
from training_dashboard import schemas
from training_dashboard.state.stats import StatsState, readiness_text


def test_readiness_text() -> None:
    assert readiness_text(0, 50) == "50 more ratings needed for training"
    assert readiness_text(49, 50) == "1 more rating needed for training"
    assert readiness_text(50, 50).startswith("Ready to train")
    assert readiness_text(70, 50).startswith("Ready to train")


async def test_stats_load_and_readiness(root, transport, api, db, settings) -> None:  # type: ignore[no-untyped-def]
    # conftest's settings: readiness_threshold=5, min_rating 4
    prompt = await api.create_prompt(schemas.PromptCreate(text="x"))
    for audio_id, rating in zip(make_clips(db, settings, prompt.id, n=3), [5, 4, 2], strict=True):
        await api.submit_feedback(schemas.FeedbackCreate(audio_id=audio_id, rating=rating))
    stats = await root.get_state(StatsState)
    assert stats.readiness_text == ""  # nothing claimed before the figures arrive
    await run(StatsState.load_stats, stats)
    assert stats.total_feedback == 3 and stats.eligible == 2 and stats.threshold == 5
    assert stats.readiness_text == "3 more ratings needed for training"
    assert stats.readiness_fraction == "2 / 5 samples" and stats.readiness_percent == 40 and not stats.ready
    assert [r["count"] for r in stats.rating_chart] == [0, 1, 0, 1, 1]
    assert [r["percent"] for r in stats.rating_chart] == ["0.0%", "100.0%", "0.0%", "100.0%", "100.0%"]
    assert sum(r.count for r in stats.by_adapter) == 3
