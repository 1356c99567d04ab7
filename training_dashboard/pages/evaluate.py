"""`/evaluate/<id>`: blind listening for one evaluation (its own module, so its own JS chunk).

Two players, First and Second; buttons and keys 1 / 2 / 0 (tie), space plays or pauses.
No model is named until the evaluation is completed.
"""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.layout import empty_state, page_shell, stack_card
from training_dashboard.components.listening import listen_hint, listening_card, listening_panel, player
from training_dashboard.components.verdict_badge import verdict_badge
from training_dashboard.schemas import MAX_REASON_CHARS
from training_dashboard.state.auth import AuthState, guard
from training_dashboard.state.evaluate import FIRST, REASON_BOX, SECOND, EvaluateState
from training_dashboard.state.listen_gate import collect_js


def _player(label: str, src: rx.Var[str], element_id: str) -> rx.Component:
    return stack_card(rx.badge(label, size="3", variant="solid"), player(src, element_id, EvaluateState.track))


def _vote_button(text: str, choice: str, testid: str, **props) -> rx.Component:  # type: ignore[no-untyped-def]
    s = EvaluateState
    # The handler gets what was heard and the reason box's text, read in the browser at the click.
    return rx.button(text, on_click=rx.call_script(collect_js(REASON_BOX), callback=s.vote(choice)),
                     disabled=~s.can_vote, size="3", custom_attrs={"data-testid": testid}, **props)


def _reason_box() -> rx.Component:
    """One optional line. Uncontrolled (the browser keeps the text; the vote reads it), so typing sends
    nothing and no update can reset it; a new pair (``key``) starts it empty. The keys ignore it, and
    Enter or Escape in it only hands the keys back (``data-keys-blur``)."""
    return rx.input(
        rx.input.slot(rx.icon("message-square-text", size=16)),
        placeholder="Why? (optional)", max_length=MAX_REASON_CHARS, id=REASON_BOX, key=EvaluateState.pair_id,
        width="100%", size="2", auto_complete="off",
        custom_attrs={"data-testid": REASON_BOX, "data-keys-blur": "", "aria-label": "Why? (optional)"},
    )


def pair_card() -> rx.Component:
    s = EvaluateState
    return listening_card(
        rx.text("Prompt", size="1", color_scheme="gray"),
        rx.text(s.prompt_text, size="4", weight="bold", custom_attrs={"data-testid": "eval-prompt"}),
        rx.grid(_player("First", s.first_src, FIRST), _player("Second", s.second_src, SECOND),
                columns=rx.breakpoints(initial="1", sm="2"), spacing="3", width="100%"),
        _reason_box(),
        rx.flex(
            _vote_button("First is better (1)", "first", "eval-vote-first"),
            _vote_button("Second is better (2)", "second", "eval-vote-second"),
            _vote_button("About the same (0)", "tie", "eval-vote-tie", variant="soft", color_scheme="gray"),
            spacing="2", wrap="wrap",
        ),
        listen_hint(s.listen_hint, "eval-listen-hint"),
        keys="Keys: 1 First · 2 Second · 0 about the same · Space plays/pauses · Enter leaves the reason box. "
             "Which model made which clip is drawn at random for every pair and listener, and shown only when the "
             "evaluation is complete.",
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
            rx.cond(s.attentive, rx.hstack(
                verdict_badge(s.attentive_verdict, s.attentive, "eval-attentive-verdict"),
                rx.text(s.attentive, size="2", color_scheme="gray", custom_attrs={"data-testid": "eval-attentive"}),
                spacing="2", align="start")),
            rx.foreach(s.listeners, lambda line: rx.text("· ", line, size="1", color_scheme="gray",
                                                         custom_attrs={"data-testid": "eval-listener"})),
            rx.cond(s.reasons, rx.vstack(
                rx.text("Reasons given", size="2", weight="medium"),
                rx.foreach(s.reasons, lambda line: rx.text(line, size="1",
                                                           custom_attrs={"data-testid": "eval-reason-given"})),
                spacing="1")),
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
