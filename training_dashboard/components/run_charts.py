"""Line charts of a run: loss with held-out loss, learning rate, and the overlaid loss curves of
compared runs.

The charts are recharts, drawn by ``assets/run_chart.jsx`` and imported lazily: Reflex's own
``rx.recharts`` children (lines, axes, grid) are static imports, which put all of recharts
(~350 KB of JavaScript) into the /training page's chunk for every visitor of the Datasets tab.
Through this module the page holds only an ``import()`` of the chart module, which the browser
fetches when the Runs tab (:func:`chart_preload`) or a chart is first shown.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from training_dashboard.state.runs import COMPARE_COLORS, RunsState

CHART_MODULE = "$/public/run_chart.jsx"  # assets/run_chart.jsx, as the frontend build sees it
RECHARTS = rx.recharts.LineChart.library  # the recharts release this Reflex pins (installed by npm)


class RunLineChart(rx.NoSSRComponent):
    """One line chart with a numeric ``step`` x-axis (``assets/run_chart.jsx``)."""

    library = CHART_MODULE
    tag = "RunLineChart"
    lib_dependencies: list[str] = [RECHARTS]  # noqa: RUF012 - Reflex reads it from the class

    data: rx.Var[list[dict[str, Any]]]
    lines: rx.Var[list[dict[str, Any]]]  # recharts <Line> props, one object per line
    height: rx.Var[int]


class ChartPreload(rx.NoSSRComponent):
    """Renders nothing; mounting it starts the download of the chart module."""

    library = CHART_MODULE
    tag = "Preload"
    lib_dependencies: list[str] = [RECHARTS]  # noqa: RUF012


def chart_preload() -> rx.Component:
    return ChartPreload.create()


def _frame(*lines: dict[str, Any], data: rx.Var, testid: str, height: int = 240) -> rx.Component:
    return rx.box(
        RunLineChart.create(data=data, lines=list(lines), height=height),
        width="100%", custom_attrs={"data-testid": testid, "data-points": data.length().to_string()},
    )


def loss_chart() -> rx.Component:
    return _frame(
        {"dataKey": "loss", "name": "train loss", "stroke": "#3e63dd", "dot": False},
        {"dataKey": "eval_loss", "name": "held-out loss", "stroke": "#e5484d", "connectNulls": True},
        data=RunsState.loss_points, testid="run-loss-chart",
    )


def lr_chart() -> rx.Component:
    return _frame({"dataKey": "learning_rate", "name": "learning rate", "stroke": "#30a46c", "dot": False},
                  data=RunsState.lr_points, testid="run-lr-chart", height=180)


def compare_chart() -> rx.Component:
    lines = [{"dataKey": f"r{slot}", "name": RunsState.compare_names[slot], "stroke": color, "dot": False,
              "connectNulls": True, "hide": RunsState.compare_names[slot] == "",
              "legendType": rx.cond(RunsState.compare_names[slot] == "", "none", "line")}
             for slot, color in enumerate(COMPARE_COLORS)]
    return _frame(*lines, data=RunsState.compare_points, testid="compare-chart", height=300)
