"""Preview counts take shortcuts for tag filters (issue 9 item 5); they must count what the
snapshot stores, for every combination of tags and rating-level fields."""

from __future__ import annotations

import itertools
import random

import pytest

from tests.factories import make_clips
from training_dashboard import schemas
from training_dashboard.services import datasets, feedback, prompts

TAGS = ["warm", "noisy", "bright", "lofi"]


@pytest.fixture
def rows(db, settings):  # type: ignore[no-untyped-def]
    """60 ratings over two prompts' clips with random tag sets (some untagged)."""
    rng = random.Random(7)
    made = []
    for text in ("first", "second"):
        pid = prompts.create_prompt(db, schemas.PromptCreate(text=text)).id or 0
        for audio_id in make_clips(db, settings, pid, n=3):
            for _ in range(10):
                tags = sorted(rng.sample(TAGS, rng.randint(0, 3)))
                value = rng.randint(1, 5)
                feedback.create_rating(db, schemas.FeedbackCreate(audio_id=audio_id, rating=value, tags=tags))
                made.append({"rating": value, "tags": set(tags)})
    return made


def _filters():  # type: ignore[no-untyped-def]
    tag_sets = [[], ["warm"], ["warm", "noisy"], ["bright", "lofi", "warm"]]
    for required, excluded in itertools.product(tag_sets, tag_sets):
        if set(required) & set(excluded):
            continue
        yield {"required_tags": required, "excluded_tags": excluded}
        yield {"required_tags": required, "excluded_tags": excluded, "min_rating": 3}


def test_preview_counts_what_the_snapshot_stores(db, rows):
    for i, flt in enumerate(_filters()):
        f = schemas.DatasetFilter(**flt)
        expected = sum(1 for r in rows if set(f.required_tags) <= r["tags"] and not set(f.excluded_tags) & r["tags"]
                       and r["rating"] >= (f.min_rating or 1))
        assert datasets.preview_count(db, "supervised", f) == expected, flt
        snapshot = datasets.snapshot_dataset(db, schemas.DatasetCreate(name=f"d{i}", type="supervised", filter=f))
        assert snapshot.sample_count == expected, flt
