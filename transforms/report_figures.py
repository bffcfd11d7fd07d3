"""The report's plots, as base64 PNGs for `data:` URLs (matplotlib, no display).

Each returns None when there is nothing to draw, and the page leaves it out.
"""
from __future__ import annotations

import base64
import io


def figure_png(draw) -> str:
    # A bare Figure renders with Agg when saved as PNG: no display, and no pyplot (its import and
    # backend set-up were a third of the report's time).
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 3.6), dpi=100)
    axis = figure.subplots()
    draw(axis)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})  # no version stamp: stable bytes
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def score_histograms(samples: dict[str, list[float]], prefix: str, title: str) -> str | None:
    series = {k[len(prefix):]: v for k, v in samples.items() if k.startswith(prefix) and v}
    if not series:
        return None
    low = min(min(v) for v in series.values())
    high = max(max(v) for v in series.values())
    bins = [low + (high - low) * i / 40 for i in range(41)] if high > low else 10

    def draw(axis):
        for name, values in sorted(series.items()):
            # One filled outline per series, not a patch per bin: the same picture, drawn 3-4x faster.
            axis.hist(values, bins=bins, alpha=0.5, label=f"{name} (n={len(values)})", density=True,
                      histtype="stepfilled")
        axis.set_xlabel("reward-model score")
        axis.set_ylabel("density")
        axis.set_title(title)
        axis.legend(fontsize=7)
    return figure_png(draw)


def scores_by_error_type(samples: dict[str, list[float]]) -> str | None:
    series = {k[len("error:"):]: v for k, v in samples.items() if k.startswith("error:") and v}
    correct = samples.get("label:correct")
    if not series:
        return None
    names = (["correct"] if correct else []) + sorted(series)
    data = ([correct] if correct else []) + [series[n] for n in sorted(series)]

    def draw(axis):
        axis.boxplot(data, orientation="horizontal", showfliers=False)
        axis.set_yticks(range(1, len(names) + 1), names, fontsize=7)
        axis.set_xlabel("reward-model score")
        axis.set_title("Scores by error type (correct candidates in the bottom row)")
    return figure_png(draw)


def stage_bars(stages: list[tuple[str, int]]) -> str:
    def draw(axis):
        labels = [s for s, _ in stages]
        values = [v for _, v in stages]
        axis.barh(range(len(values)), values)
        axis.set_yticks(range(len(values)), labels, fontsize=8)
        axis.invert_yaxis()
        for position, value in enumerate(values):
            axis.text(value, position, f" {value}", va="center", fontsize=8)
        axis.set_title("Counts through each stage")
    return figure_png(draw)


def margin_histogram(margins: list[float], hard_margin: float | None) -> str | None:
    if not margins:
        return None

    def draw(axis):
        axis.hist(margins, bins=40, color="#4c72b0", histtype="stepfilled")
        axis.axvline(0.0, color="#c44e52", linewidth=1, label="0: the scorer prefers the rejected call")
        if hard_margin is not None:
            axis.axvline(hard_margin, color="#dd8452", linestyle="--", linewidth=1,
                         label=f"hard margin {hard_margin:g}")
        axis.set_xlabel("score margin (chosen - rejected)")
        axis.set_ylabel("pairs")
        axis.set_title(f"Score margins of the written pairs (n={len(margins)})")
        axis.legend(fontsize=7)
    return figure_png(draw)
