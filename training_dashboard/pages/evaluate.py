"""`/evaluate/<id>`: blind listening for one evaluation (its own module, so its own JS chunk).

Two players, First and Second; buttons and keys 1 / 2 / 0 (tie), space plays or pauses.
No model is named until the evaluation is completed.
"""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.layout import empty_state, page_shell, stack_card
from training_dashboard.components.listening import listening_card, listening_panel, player
from training_dashboard.components.verdict_badge import verdict_badge
from training_dashboard.state.auth import AuthState, guard
from training_dashboard.state.evaluate import EvaluateState


def _player(label: str, src: rx.Var[str], element_id: str) -> rx.Component:
    return stack_card(rx.badge(label, size="3", variant="solid"), player(src, element_id))


def _vote_button(text: str, choice: str, testid: str, **props) -> rx.Component:  # type: ignore[no-untyped-def]
    s = EvaluateState
    return rx.button(text, on_click=s.vote(choice), disabled=~s.has_pair | s.voting, size="3",
                     custom_attrs={"data-testid": testid}, **props)


def pair_card() -> rx.Component:
    s = EvaluateState
    return listening_card(
        rx.text("Prompt", size="1", color_scheme="gray"),
        rx.text(s.prompt_text, size="4", weight="bold", custom_attrs={"data-testid": "eval-prompt"}),
        rx.grid(_player("First", s.first_src, "eval-first-audio"),
                _player("Second", s.second_src, "eval-second-audio"),
                columns=rx.breakpoints(initial="1", sm="2"), spacing="3", width="100%"),
        rx.flex(
            _vote_button("First is better (1)", "first", "eval-vote-first"),
            _vote_button("Second is better (2)", "second", "eval-vote-second"),
            _vote_button("About the same (0)", "tie", "eval-vote-tie", variant="soft", color_scheme="gray"),
            spacing="2", wrap="wrap",
        ),
        keys="Keys: 1 First · 2 Second · 0 about the same · Space plays/pauses. Which model made which clip "
             "is drawn at random for every pair and listener, and shown only when the evaluation is complete.",
        testid="eval-card", data={"data-pair-id": s.pair_id},
    )


def _finished() -> rx.Component:
    s = EvaluateState
    return rx.cond(
        s.reveal,
        rx.card(rx.vstack(
            rx.hstack(rx.heading("Evaluation complete", size="4"), verdict_badge(s.verdict, s.reveal, "eval-verdict"),
                      spacing="2", align="center"),
            rx.text(s.reveal, size="2", custom_attrs={"data-testid": "eval-reveal"}),
            rx.link("See it on the Adapters tab →", href="/training?tab=adapters"),
            spacing="2", align="start"), width="100%", custom_attrs={"data-testid": "eval-complete"}),
        rx.cond(
            s.status == "completed",
            empty_state("Evaluation complete", "Thank you for listening. Trainers see the result on the Adapters "
                        "tab.", testid="eval-complete-thanks"),
            empty_state("You have voted on every ready pair",
                        "Thank you. The result is shown here and on the Adapters tab once the evaluation is complete.",
                        rx.button("Check again", on_click=s.load_next, variant="soft", size="1"), testid="eval-done"),
        ),
    )


def evaluate_panel() -> rx.Component:
    s = EvaluateState
    return listening_panel(
        rx.heading("Blind evaluation #", s.evaluation_id.to_string(), size="5"),
        rx.cond(s.pairs_total > 0, rx.badge(s.progress_text, size="2", custom_attrs={"data-testid": "eval-progress"})),
        rx.progress(value=s.progress_pct, size="1"),
        s.error,
        rx.cond(
            s.has_pair, pair_card(),
            rx.cond(s.finished_for_rater, _finished(), rx.cond(
                s.waiting,
                rx.card(rx.hstack(rx.spinner(), rx.text("Clips are being generated; the first pair appears here "
                                                        "as soon as both of its clips exist.", size="2")),
                        width="100%", custom_attrs={"data-testid": "eval-waiting"}),
                rx.vstack(rx.cond(AuthState.auth_off, rx.text("Choose who is listening (top right), then start.",
                                                               size="2", color_scheme="gray")),
                          rx.button("Start listening", on_click=s.load_next, loading=s.loading,
                                    custom_attrs={"data-testid": "eval-start"}), spacing="2"),
            )),
        ),
        max_width="52em",
    )


@rx.page(route="/evaluate/[evaluation]", title="Blind evaluation · Training Dashboard",
         on_load=guard("/evaluate/[evaluation]", EvaluateState.load_page))
def evaluate() -> rx.Component:
    return page_shell(evaluate_panel(), current="Evaluate")
