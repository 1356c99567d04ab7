"""Line charts of a run (recharts, through Reflex): loss with held-out loss, learning rate, and the
overlaid loss curves of compared runs. Used only by the /training page, so only its chunk loads them."""

from __future__ import annotations

import reflex as rx

from training_dashboard.state.runs import COMPARE_COLORS, RunsState


def _frame(*children: rx.Component, data: rx.Var, testid: str, height: int = 240) -> rx.Component:
    return rx.box(
        rx.recharts.line_chart(
            *children,
            rx.recharts.cartesian_grid(stroke_dasharray="3 3", stroke="var(--gray-a5)"),
            rx.recharts.x_axis(data_key="step", type_="number", domain=["dataMin", "dataMax"], allow_decimals=False),
            rx.recharts.y_axis(domain=["auto", "auto"], width=60),
            rx.recharts.graphing_tooltip(),
            rx.recharts.legend(),
            data=data, width="100%", height=height,
        ),
        width="100%", custom_attrs={"data-testid": testid, "data-points": data.length().to_string()},
    )


def loss_chart() -> rx.Component:
    return _frame(
        rx.recharts.line(data_key="loss", name="train loss", stroke="#3e63dd", dot=False, is_animation_active=False),
        rx.recharts.line(data_key="eval_loss", name="held-out loss", stroke="#e5484d", connect_nulls=True,
                         is_animation_active=False),
        data=RunsState.loss_points, testid="run-loss-chart",
    )


def lr_chart() -> rx.Component:
    return _frame(
        rx.recharts.line(data_key="learning_rate", name="learning rate", stroke="#30a46c", dot=False,
                         is_animation_active=False),
        data=RunsState.lr_points, testid="run-lr-chart", height=180,
    )


def compare_chart() -> rx.Component:
    lines = [rx.recharts.line(data_key=f"r{slot}", name=RunsState.compare_names[slot], stroke=color, dot=False,
                              connect_nulls=True, is_animation_active=False, hide=RunsState.compare_names[slot] == "",
                              legend_type=rx.cond(RunsState.compare_names[slot] == "", "none", "line"))
             for slot, color in enumerate(COMPARE_COLORS)]
    return _frame(*lines, data=RunsState.compare_points, testid="compare-chart", height=300)
