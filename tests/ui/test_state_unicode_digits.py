"""UI state fed Unicode digits ("³", "٣", full-width "１"): a validation message, never an exception
(and never read as another number)."""

from __future__ import annotations

import pytest

from tests.ui.conftest import run
from training_dashboard.state.datasets import MIN_RATERS_HINT, DatasetsState, min_heard_fraction
from training_dashboard.state.evaluate import evaluation_id_from_path
from training_dashboard.state.evaluation_texts import win_rate_value
from training_dashboard.state.evaluations import clip_seconds_problem, num_prompts_problem
from training_dashboard.state.history import HistoryState
from training_dashboard.state.rater import RaterState
from training_dashboard.state.studio import Clip, StudioState, prompt_problem

ODD = ("³", "٣", "１", "1\u0301", "٤٠", "１２０")


def test_form_checks_name_the_problem() -> None:
    for text in ODD:
        assert "Tempo must be a whole number" in prompt_problem("calm", text, "5"), text
        assert num_prompts_problem(text) == "Between 5 and 200 prompts", text
        assert evaluation_id_from_path(f"/evaluate/{text}") == 0, text
    assert prompt_problem("calm", " 120 ", "5") == "" and num_prompts_problem(" 10 ") == ""


def test_decimal_fields_take_plain_decimals_only() -> None:
    """float() reads "１.５", "1_0", "1e1", "nan" and "inf"; a seconds or percent field does not."""
    for text in (*ODD, "１.５", "1_0", "1e1", "nan", "inf", "-1", "0x1", "1.2.3", ""):
        assert prompt_problem("calm", "", text) == "Duration must be a number of seconds", text
        assert clip_seconds_problem(text) == "A number of seconds", text
        assert win_rate_value(text) is None, text
        if text:
            with pytest.raises(ValueError, match="Heard at least"):
                min_heard_fraction(text)
    assert prompt_problem("calm", "", " 1.5 ") == "" and prompt_problem("calm", "", ".5") == ""
    assert clip_seconds_problem("2.") == "" and win_rate_value(" 65 % ") == 0.65 and min_heard_fraction("50.5") == 0.505


async def test_dataset_form_and_rater_id(root) -> None:  # type: ignore[no-untyped-def]
    ds = await root.get_state(DatasetsState)
    ds.name, ds.preview_count = "ok", 3
    for text in ODD:
        ds.min_raters = text
        assert ds.validation_error == MIN_RATERS_HINT and not ds.can_create, text
        ds.min_raters, ds.adapter_choice = "", text
        assert ds._filter().adapter_id is None, text  # not an adapter id: no adapter filter
    rater = await root.get_state(RaterState)
    for text in ODD:
        rater.rater_id = text
        assert rater.current_id == 0, text


async def test_studio_request_and_rating(root) -> None:  # type: ignore[no-untyped-def]
    studio = await root.get_state(StudioState)
    studio.text = "calm"
    for text in ODD:
        studio.tempo = text
        assert not studio.can_generate and "Tempo" in studio.form_problem, text
        studio.tempo, studio.adapter_choice = "", text
        assert studio._request_parts()[2] is None, text
    studio.clips = [Clip(id=1, label="A", seed=1, adapter_label="base", src="", duration=0.5)]
    for text in ODD:
        await run(StudioState.set_rating, studio, 0, text)
        events = await run(StudioState.submit_feedback, studio, 0)
        assert "Choose a rating from 1 to 5 first" in str(events[0]) and not studio.clips[0].submitted, text


async def test_history_rating_with_unicode_digits(root) -> None:  # type: ignore[no-untyped-def]
    (await root.get_state(RaterState)).rater_id = "1"
    history = await root.get_state(HistoryState)
    for text in ODD:
        events = await run(HistoryState.rate_clip, history, 1, text)
        assert "Choose a rating from 1 to 5" in str(events[0]), text
