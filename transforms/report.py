"""`report.html`: counts through each stage and score distributions, as one self-contained page."""
from __future__ import annotations

import base64
import html
import io
from typing import Any


def _figure_png(draw) -> str:
    import matplotlib
    matplotlib.use("Agg")  # no display on workers or CI
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 3.6), dpi=100)
    draw(axis)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})  # no version stamp: stable bytes
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _histograms(samples: dict[str, list[float]], prefix: str, title: str) -> str | None:
    series = {k[len(prefix):]: v for k, v in samples.items() if k.startswith(prefix) and v}
    if not series:
        return None
    low = min(min(v) for v in series.values())
    high = max(max(v) for v in series.values())
    bins = [low + (high - low) * i / 40 for i in range(41)] if high > low else 10

    def draw(axis):
        for name, values in sorted(series.items()):
            axis.hist(values, bins=bins, alpha=0.5, label=f"{name} (n={len(values)})", density=True)
        axis.set_xlabel("reward-model score")
        axis.set_ylabel("density")
        axis.set_title(title)
        axis.legend(fontsize=7)
    return _figure_png(draw)


def _box_by_error_type(samples: dict[str, list[float]]) -> str | None:
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
    return _figure_png(draw)


def _stage_bars(stages: list[tuple[str, int]]) -> str:
    def draw(axis):
        labels = [s for s, _ in stages]
        values = [v for _, v in stages]
        axis.barh(range(len(values)), values)
        axis.set_yticks(range(len(values)), labels, fontsize=8)
        axis.invert_yaxis()
        for position, value in enumerate(values):
            axis.text(value, position, f" {value}", va="center", fontsize=8)
        axis.set_title("Counts through each stage")
    return _figure_png(draw)


def _table(rows: dict[str, Any]) -> str:
    cells = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>" for k, v in rows.items())
    return f"<table>{cells}</table>"


def render_report(manifest: dict[str, Any], samples: dict[str, list[float]], stages: list[tuple[str, int]]) -> str:
    """The whole page; `stages` are (name, count) in pipeline order."""
    counts = manifest["counts"]
    images = [("Counts through each stage", _stage_bars(stages)),
              ("Scores by label", _histograms(samples, "label:", "Score distribution: correct vs incorrect")),
              ("Scores by error type", _box_by_error_type(samples))]
    figures = "".join(f"<h2>{html.escape(title)}</h2><img alt='{html.escape(title)}' src='data:image/png;base64,{png}'>"
                      for title, png in images if png)
    scalar_counts = {k: v for k, v in counts.items() if not isinstance(v, dict)}
    breakdowns = "".join(f"<h3>{html.escape(k)}</h3>{_table(v)}" for k, v in counts.items() if isinstance(v, dict) and v)
    config = _table({k: v for k, v in manifest["config"].items() if k != "inputs"})
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>toolrm run report</title>
<style>body{{font-family:sans-serif;max-width:900px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:.5em 0}}td{{border:1px solid #ccc;padding:2px 8px;font-size:13px}}
img{{max-width:100%}}</style></head><body>
<h1>toolrm: scored and selected tool-call preference data</h1>
<p>Scorer: <b>{html.escape(str(manifest['config'].get('scorer')))}</b>.
Every candidate ends in a pair, in <code>filtered/</code> with its reason, in <code>quarantine/</code> with its
example, or in the dead letter.</p>
<h2>Counts</h2>{_table(scalar_counts)}{breakdowns}
{figures}
<h2>Configuration</h2>{config}
<h2>Versions</h2>{_table(manifest.get('versions', {}))}
</body></html>
"""
