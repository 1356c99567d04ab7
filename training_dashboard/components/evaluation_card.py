"""Evaluations on the Adapters tab: the Evaluate dialog and one card per evaluation (progress,
then the win rate with its interval as a bar with whiskers, the verdict badge and the p-value)."""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.layout import field, panel_header, skeleton_rows, stack_card
from training_dashboard.components.leaderboard import interval_bar
from training_dashboard.components.verdict_badge import verdict_badge
from training_dashboard.state.evaluations import BaselineOption, EvaluationRow, EvaluationState

_STATUS_COLOURS = (("generating", "blue"), ("voting", "iris"), ("completed", "green"), ("cancelled", "gray"))


def evaluate_button(adapter_id: rx.Var[int], title: rx.Var[str], adapters: rx.Var) -> rx.Component:
    return rx.button(rx.icon("scale", size=14), "Evaluate", size="1", variant="soft",
                     on_click=EvaluationState.open_evaluate(adapter_id, title, adapters),
                     custom_attrs={"data-testid": "adapter-evaluate"})


def _option(option: BaselineOption) -> rx.Component:
    return rx.select.item(option.label, value=option.value)


def _planner() -> rx.Component:
    """What the chosen number of pairs can detect, and how many pairs an expected win rate needs."""
    s = EvaluationState
    return rx.box(
        rx.vstack(
            rx.hstack(rx.icon("calculator", size=14), rx.text(s.plan_can, size="2",
                                                               custom_attrs={"data-testid": "evaluate-plan-can"}),
                      spacing="2", align="center"),
            rx.hstack(
                rx.text("If you expect a win rate of", size="2", white_space="nowrap"),
                rx.input(value=s.expected_win_rate, on_change=s.set_expected_win_rate, width="5.5em", size="1",
                         custom_attrs={"data-testid": "evaluate-expected", "aria-label": "Expected win rate"}),
                rx.text(rx.cond(s.win_rate_problem, s.win_rate_problem, s.plan_needs), size="2",
                        color_scheme=rx.cond(s.win_rate_problem, "red", "gray"),
                        custom_attrs={"data-testid": "evaluate-plan-needs"}),
                spacing="2", align="center", wrap="wrap",
            ),
            rx.text(s.plan_note, size="1", color_scheme="gray"),
            spacing="2", width="100%",
        ),
        padding="0.75em", border_radius="var(--radius-3)", background="var(--gray-a2)", width="100%",
        custom_attrs={"data-testid": "evaluate-plan"},
    )


def evaluate_dialog() -> rx.Component:
    s = EvaluationState
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Evaluate ", s.dialog_title),
            rx.dialog.description(
                "A blind comparison on held-out prompts (none from the data this adapter was trained on): both "
                "models generate every prompt with the same seed, raters pick the better clip without knowing "
                "which is which, and the verdict comes from the win rate's 95% interval.", size="2"),
            rx.vstack(
                field("Compare with", rx.select.root(
                    rx.select.trigger(width="100%", custom_attrs={"data-testid": "evaluate-baseline"}),
                    rx.select.content(rx.foreach(s.baseline_options, _option)),
                    value=s.baseline, on_change=s.set_baseline,
                )),
                field("Number of prompts", rx.input(value=s.num_prompts, on_change=s.set_num_prompts, type="number",
                                                    min=5, max=200, custom_attrs={"data-testid": "evaluate-prompts"}),
                      rx.cond(s.prompts_problem, rx.text(s.prompts_problem, size="1", color_scheme="red"),
                              rx.text("5–200; each prompt is one pair of clips", size="1", color_scheme="gray"))),
                _planner(),
                field("Clip length (seconds)", rx.input(value=s.clip_seconds, on_change=s.set_clip_seconds,
                                                        type="number", min=0.5, max=30, step=0.5,
                                                        custom_attrs={"data-testid": "evaluate-seconds"}),
                      rx.cond(s.seconds_problem, rx.text(s.seconds_problem, size="1", color_scheme="red"),
                              rx.text("Both models, same seed and settings", size="1", color_scheme="gray"))),
                rx.hstack(
                    rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray")),
                    rx.button("Start evaluation", on_click=s.start_evaluation, loading=s.starting,
                              disabled=~s.can_start, custom_attrs={"data-testid": "evaluate-start"}),
                    justify="end", spacing="2", width="100%",
                ),
                spacing="3", padding_top="1em",
            ),
            custom_attrs={"data-testid": "evaluate-dialog"},
        ),
        open=s.dialog_for > 0, on_open_change=s.close_evaluate,
    )


def evaluation_card(row: EvaluationRow) -> rx.Component:
    axis = rx.box(  # the 50% line: a verdict needs the whole interval on one side of it
        style={"position": "absolute", "left": "50%", "top": "0", "height": "16px", "width": "1px",
               "border_left": "1px dashed var(--gray-a8)"})
    return stack_card(
        rx.flex(
            rx.hstack(rx.text("#", row.id.to_string(), color_scheme="gray", size="2"),
                      rx.text(row.title, weight="bold", size="2"),
                      rx.badge(row.status, color_scheme=rx.match(row.status, *_STATUS_COLOURS, "gray"),
                               custom_attrs={"data-testid": "evaluation-status"}),
                      rx.cond(row.verdict != "", verdict_badge(row.verdict, row.interval, "evaluation-verdict")),
                      spacing="2", align="center", wrap="wrap"),
            rx.hstack(
                rx.cond(row.is_open, rx.link(rx.button("Listen blind", size="1"), href=row.href,
                                             custom_attrs={"data-testid": "evaluation-listen"})),
                rx.cond(row.is_open, rx.button("Cancel", size="1", variant="soft", color_scheme="gray",
                                               on_click=EvaluationState.cancel(row.id))),
                spacing="2",
            ),
            justify="between", align="center", wrap="wrap", gap="2", width="100%",
        ),
        rx.text(row.progress, size="1", color_scheme="gray", custom_attrs={"data-testid": "evaluation-progress"}),
        rx.cond(row.is_open, rx.progress(value=row.clips_pct, size="1")),
        rx.cond(row.has_interval, rx.vstack(
            rx.text(row.result, " · ", row.interval, size="2", custom_attrs={"data-testid": "evaluation-result"}),
            rx.box(axis, interval_bar(row), position="relative", width="100%"),
            rx.flex(rx.text("0%", size="1", color_scheme="gray"), rx.text("50%", size="1", color_scheme="gray"),
                    rx.text("100%", size="1", color_scheme="gray"), justify="between", width="100%"),
            spacing="1", width="100%",
        )),
        rx.cond(row.attentive != "", rx.hstack(
            rx.icon("headphones", size=14, color="var(--gray-10)", flex_shrink="0", margin_top="2px"),
            rx.cond(row.attentive_verdict != "", verdict_badge(row.attentive_verdict, row.attentive,
                                                               "evaluation-attentive-verdict")),
            rx.text(row.attentive, size="1", color_scheme="gray", custom_attrs={"data-testid": "evaluation-attentive"}),
            spacing="2", align="start",
        )),
        custom_attrs={"data-testid": "evaluation-card", "data-evaluation-id": row.id},
    )


def evaluation_panel() -> rx.Component:
    s = EvaluationState
    return rx.vstack(
        panel_header("Evaluations", rx.button(rx.icon("refresh-cw", size=14), "Refresh", on_click=s.load_evaluations,
                                              loading=s.loading, variant="soft", size="1",
                                              custom_attrs={"data-testid": "evaluations-refresh"})),
        rx.cond(s.error, rx.callout(s.error, color_scheme="red", size="1", icon="circle_alert")),
        rx.cond(~s.loaded, skeleton_rows(1), rx.cond(
            s.rows.length() > 0,
            rx.vstack(rx.foreach(s.rows, evaluation_card), spacing="2", width="100%"),
            rx.text("No evaluations yet. Press Evaluate on an adapter to compare it blind with the base model "
                    "or another adapter.", size="2", color_scheme="gray", custom_attrs={"data-testid":
                                                                                      "evaluations-empty"}),
        )),
        evaluate_dialog(),
        on_mount=s.load_evaluations,
        spacing="3", width="100%", align="stretch", padding_top="1.5em",
        custom_attrs={"data-testid": "evaluations"},
    )
