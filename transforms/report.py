"""`report.html`: one self-contained page, what a user checks first at the top.

1. warnings (a reward model that disagrees with the checker, dead letters, quarantine, no pairs);
2. the scorer's agreement with the checker's labels on this data, by error type and by source;
3. example pairs per error type, hardest first: the request, the tool, the chosen and the rejected call;
4. the score-margin distribution of the written pairs;
5. counts per source, from ingest to pairs;
6. dead letters by reason, one sample each, for this stage and the stages before it;
7. time per stage;
then the counts through the stage, score distributions, configuration and versions.

Corpus and model text is hostile input: every value goes through `html.escape`,
and the page's Content-Security-Policy allows no script, no remote load and no
image but the inline `data:` plots.
"""
from __future__ import annotations

import datetime
import html
from typing import Any, Iterable

from toolrm_beam.transforms import agreement
from toolrm_beam.transforms.report_figures import margin_histogram, score_histograms, scores_by_error_type, stage_bars

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
STYLE = """body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222;line-height:1.35}
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:2px 8px;font-size:13px;
vertical-align:top;text-align:left}th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.low td{background:#fde8e8}img{max-width:100%}pre{white-space:pre-wrap;word-break:break-word;margin:0;
font-size:12px;background:#f7f7f7;padding:4px 6px;border-radius:3px}
.warn{border:1px solid #d9534f;background:#fdf2f2;padding:.5em 1em;border-radius:4px}
.ok{border:1px solid #5cb85c;background:#f2fbf2;padding:.5em 1em;border-radius:4px}
.pair{border:1px solid #ccc;border-radius:4px;padding:.5em 1em;margin:.8em 0}
.pair h4{margin:.2em 0 .5em}.label{font-size:12px;color:#555;margin:.4em 0 .1em}
.calls{display:grid;grid-template-columns:1fr 1fr;gap:.8em}nav a{margin-right:1em}.muted{color:#666;font-size:13px}"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "&ndash;"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return _e(value)


def _table(rows: dict[str, Any]) -> str:
    cells = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows.items())
    return f"<table>{cells}</table>"


def _grid(header: Iterable[str], rows: Iterable[tuple[list[str], str]]) -> str:
    """A table from already-escaped cells; each row is (cells, css class)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(f"<tr class='{css}'>{''.join(cells)}</tr>" for cells, css in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _slice_name(name: str) -> str:
    return name.split(":", 1)[1] if ":" in name else name


def _slice_label(name: str) -> str:
    kind, _, value = name.partition(":")
    return {"error_type": f"error type {value}", "source": f"source {value}"}.get(kind, "all data")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


# ----------------------------------------------------------------------------- sections

def _warnings(manifest: dict[str, Any], data: dict[str, Any]) -> str:
    counts = manifest["counts"]
    slices = data.get("agreement", {})
    items = []
    for name, s in slices.items():
        if not s["low"]:
            continue
        where = f"<b>{_e(_slice_label(name))}</b> ({s['pairs']} pairs)"
        if s["pairwise_accuracy"] is not None and s["pairwise_accuracy"] < agreement.LOW_AGREEMENT:
            items.append(f"The reward model disagrees with the checker on {where}: it scores the correct call "
                         f"strictly higher in only {_num(s['pairwise_accuracy'])} of the pairs (ROC AUC "
                         f"{_num(s['roc_auc'])}). Margins and the hard-negative order there rest on a weak signal.")
        else:
            items.append(f"The reward model's scores separate correct from incorrect calls poorly across examples on "
                         f"{where}: ROC AUC {_num(s['roc_auc'])}, though within an example it ranks the correct call "
                         f"higher in {_num(s['pairwise_accuracy'])} of the pairs. A score floor "
                         f"(<code>--min_positive_score</code>) would cut correct calls there.")
    overall = slices.get(agreement.ALL)
    if overall is not None and not overall["judged"]:
        items.append(f"Only {overall['pairs']} (correct, incorrect) pairs were scored: too few to judge the reward "
                     f"model (at least {agreement.MIN_PAIRS_TO_JUDGE}).")
    if not counts.get("pairs"):
        items.append("No pairs were written.")
    dead = sum(d["count"] for d in data.get("dead_letters", []))
    if dead:
        items.append(f"{_plural(dead, 'record')} went to dead letters (<a href='#dead-letters'>by reason</a>).")
    if counts.get("examples_quarantined"):
        items.append(f"{_plural(counts['examples_quarantined'], 'example')} quarantined: the reference looks wrong "
                     f"(<code>quarantine/</code>).")
    if not items:
        return "<p class='ok'>The reward model agrees with the checker on every slice with enough pairs; no dead " \
               "letters, no quarantine.</p>"
    return "<div class='warn'><b>Check first</b><ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul></div>"


def _agreement(data: dict[str, Any]) -> str:
    slices = data.get("agreement", {})
    if not slices:
        return "<p>No scored candidates with a label.</p>"
    header = ["slice", "pairs", "pairwise accuracy", "ties", "correct", "incorrect", "ROC AUC"]

    def rows(prefix: str | None):
        for name, s in slices.items():
            if (prefix is None and name == agreement.ALL) or (prefix and name.startswith(prefix)):
                cells = [f"<td>{_e(_slice_name(name))}</td>", f"<td class='n'>{s['pairs']}</td>",
                         f"<td class='n'>{_num(s['pairwise_accuracy'])}</td>", f"<td class='n'>{s['ties']}</td>",
                         f"<td class='n'>{s['positives']}</td>", f"<td class='n'>{s['negatives']}</td>",
                         f"<td class='n'>{_num(s['roc_auc'])}</td>"]
                yield cells, "low" if s["low"] else ""

    return (f"<p class='muted'>Every scored example, before selection: pairwise accuracy is the share of its "
            f"(correct, incorrect) candidate pairs where the correct one scores strictly higher; ROC AUC pools "
            f"candidates across examples (scores in {agreement.SCORE_BIN}-wide bins, ties count half). Rows in red "
            f"fall below {agreement.LOW_AGREEMENT} with at least {agreement.MIN_PAIRS_TO_JUDGE} pairs. The "
            f"checker's labels are the reference here, so this is a health check of the reward model on your "
            f"data, not a benchmark.</p>"
            f"<h3>Overall</h3>{_grid(header, rows(None))}"
            f"<h3>By error type</h3>{_grid(header, rows('error_type:'))}"
            f"<h3>By source</h3>{_grid(header, rows('source:'))}")


def _pair_card(view: dict[str, Any]) -> str:
    tools = "".join(f"<pre>{_e(t['name'])}: {_e(t['description'])}\nparameters: {_e(t['parameters'])}</pre>"
                    for t in view["tools"])
    unknown = (f"<div class='muted'>called but not in the catalog: {_e(', '.join(view['unknown_functions']))}</div>"
               if view["unknown_functions"] else "")
    earlier = f" (after {view['earlier_messages']} earlier messages)" if view["earlier_messages"] else ""
    detail = f"<div class='muted'>checker: {_e(view['rejected_detail'])}</div>" if view.get("rejected_detail") else ""
    return (f"<div class='pair'><h4>margin {_num(view['score_margin'])} &middot; {_e(view['source'])} &middot; "
            f"<code>{_e(view['example_id'])}</code></h4>"
            f"<div class='label'>User's request{_e(earlier)}</div><pre>{_e(view['request'])}</pre>"
            f"<div class='label'>Tool ({len(view['tools'])} shown of {view['catalog_size']} in the catalog)</div>"
            f"{tools}{unknown}<div class='calls'>"
            f"<div><div class='label'>Chosen &middot; score {_num(view['chosen_score'])} &middot; "
            f"{_e(view['chosen_origin'])}</div><pre>{_e(view['chosen'])}</pre></div>"
            f"<div><div class='label'>Rejected &middot; score {_num(view['rejected_score'])} &middot; "
            f"{_e(view['rejected_origin'])}</div><pre>{_e(view['rejected'])}</pre>{detail}</div>"
            f"</div></div>")


def _hardest(data: dict[str, Any]) -> str:
    hardest = data.get("hardest", {})
    if not hardest:
        return "<p>No pairs were written.</p>"
    parts = ["<p class='muted'>The written pairs with the smallest score margin (chosen minus rejected) of each "
             "error type: where the reward model found the wrong call most plausible. A negative margin means it "
             "preferred the wrong call.</p>"]
    for error_type, views in hardest.items():
        parts.append(f"<h3>{_e(error_type)}</h3>" + "".join(_pair_card(v) for v in views))
    return "".join(parts)


def _quantile(values: list[float], q: float) -> float:
    position = q * (len(values) - 1)
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


def _margins(manifest: dict[str, Any], data: dict[str, Any]) -> str:
    margins = data.get("margins") or {}
    sample = margins.get("sample") or []
    if not sample:
        return "<p>No pairs were written.</p>"
    hard_margin = (manifest["config"].get("policy") or {}).get("hard_margin")
    png = margin_histogram(sample, hard_margin)
    stats = {f"{int(q * 100)}th percentile": _quantile(sample, q) for q in (0.05, 0.25, 0.5, 0.75, 0.95)}
    negative = sum(m < 0 for m in sample) / len(sample)
    note = f" (a sample of {len(sample)})" if len(sample) < margins.get("pairs", 0) else ""
    rows = {"pairs": margins.get("pairs"), **{k: f"{v:.3f}" for k, v in stats.items()},
            "share with a negative margin": f"{negative:.3f}",
            "share at or below the hard margin": f"{sum(m <= (hard_margin or 0) for m in sample) / len(sample):.3f}"}
    return (f"<p class='muted'>Margins of the written pairs{_e(note)}.</p>{_table(rows)}"
            f"<img alt='Score margins of the written pairs' src='data:image/png;base64,{png}'>")


def _sources(data: dict[str, Any], upstream: list[dict[str, Any]]) -> str:
    ingested = {s["step"].split(" ", 1)[1]: s["counts"] for s in upstream if s["pipeline"] == "ingest"}
    scored = data.get("by_source", {})
    names = sorted(set(ingested) | set(scored))
    if not names:
        return "<p>No sources.</p>"
    header = ["source", "rows in", "rows dead letter", "rows duplicate", "examples scored", "candidates",
              "correct", "incorrect", "pairs", "quarantined examples"]
    rows = []
    for name in names:
        before, after = ingested.get(name, {}), scored.get(name, {})
        values = [before.get("rows_in"), before.get("rows_dead_letter"), before.get("rows_duplicate"),
                  after.get("examples", 0), after.get("candidates", 0), after.get("correct", 0),
                  after.get("incorrect", 0), after.get("pairs", 0), after.get("quarantined_examples", 0)]
        rows.append(([f"<td>{_e(name)}</td>"] + [f"<td class='n'>{_num(v)}</td>" for v in values], ""))
    note = "" if ingested else ("<p class='muted'>Row counts come from ingest's manifest beside the example shards; "
                                "none was found.</p>")
    return _grid(header, rows) + note


def _dead_letters(data: dict[str, Any]) -> str:
    dead = data.get("dead_letters", [])
    if not dead:
        return "<p>No dead letters in this stage or the stages before it.</p>"
    rows = []
    for entry in dead:
        sample = entry.get("sample") or {}
        where = f"{sample.get('source_file')} row {sample.get('row_number')} ({sample.get('stage')})"
        rows.append(([f"<td>{_e(entry['step'])}</td>", f"<td>{_e(entry['reason'])}</td>",
                      f"<td class='n'>{entry['count']}</td>",
                      f"<td><div class='muted'>{_e(where)}</div><pre>{_e(sample.get('detail'))}</pre>"
                      f"<div class='label'>raw row</div><pre>{_e(sample.get('raw_row'))}</pre></td>"], ""))
    return _grid(["step", "reason", "count", "one sample"], rows)


def _span(timing: dict[str, Any]) -> tuple[float, float] | None:
    """(start, end) in seconds since the epoch of a stage's recorded timing, if it has one."""
    try:
        start = datetime.datetime.fromisoformat(timing["started_at"]).timestamp()
        return start, start + float(timing["seconds"])
    except (KeyError, TypeError, ValueError):
        return None


def wall_seconds(timings: list[dict[str, Any]]) -> float:
    """Wall time the stages took together: their spans' union (stages of one pipeline overlap)."""
    spans = sorted(span for span in map(_span, timings) if span is not None)
    total, end = 0.0, float("-inf")
    for start, finish in spans:
        if finish > end:
            total += finish - max(start, end)
            end = finish
    return total


def _timing(manifest: dict[str, Any], upstream: list[dict[str, Any]]) -> str:
    stages = [(s["step"], s.get("timing")) for s in upstream] + [("score", manifest.get("timing"))]
    stages.sort(key=lambda stage: ((stage[1] or {}).get("started_at", "~"), (stage[1] or {}).get("seconds", 0)))
    rows = []
    for step, timing in stages:
        timing = timing or {}
        rows.append(([f"<td>{_e(step)}</td>", f"<td class='n'>{_num(timing.get('seconds'), 1)}</td>",
                      f"<td>{_e(timing.get('started_at', 'not recorded'))}</td>",
                      f"<td>{_e(timing.get('finished_at', ''))}</td>"], ""))
    timings = [timing for _, timing in stages if timing]
    total = wall_seconds(timings)
    rows.append((["<td><b>total</b></td>", f"<td class='n'><b>{total:.1f}</b></td>", "<td></td>", "<td></td>"], ""))
    overlapping = total + 0.05 < sum(float(timing.get("seconds", 0)) for timing in timings)
    note = ("Wall time from building each stage's pipeline to writing its manifest (runner start-up included)."
            if not overlapping else
            "The stages ran in one pipeline (toolrm run), each as soon as its input arrived: a stage's seconds "
            "run from building the pipeline to writing that stage's manifest, so the last one to finish "
            "includes the others; the total is the pipeline's wall time.")
    return (f"<p class='muted'>{note}</p>"
            + _grid(["stage", "seconds", "started (UTC)", "finished (UTC)"], rows))


SECTIONS = (
    ("agreement", "Does the reward model agree with the checker?"),
    ("hardest", "Example pairs by error type, hardest first"),
    ("margins", "Score margins"),
    ("sources", "By source"),
    ("dead-letters", "Dead letters by reason"),
    ("timing", "Time per stage"),
    ("counts", "Counts through the score stage"),
    ("scores", "Score distributions"),
    ("config", "Configuration and versions"),
)


def render_report(manifest: dict[str, Any], samples: dict[str, list[float]], stages: list[tuple[str, int]], *,
                  data: dict[str, Any] | None = None, upstream: list[dict[str, Any]] | None = None) -> str:
    """The whole page. `stages`: (name, count) in pipeline order; `data`: ReportData's dict;
    `upstream`: the earlier stages (stage_inputs.upstream_stages)."""
    data, upstream = data or {}, upstream or []
    counts = manifest["counts"]
    figures = [("Scores by label", score_histograms(samples, "label:", "Score distribution: correct vs incorrect")),
               ("Scores by error type", scores_by_error_type(samples))]
    scores = "".join(f"<h3>{_e(title)}</h3><img alt='{_e(title)}' src='data:image/png;base64,{png}'>"
                     for title, png in figures if png) or "<p>No scores.</p>"
    scalar_counts = {k: v for k, v in counts.items() if not isinstance(v, dict)}
    config = {k: f"{len(v)} files" if k in ("examples", "candidates") else v for k, v in manifest["config"].items()}
    breakdowns = "".join(f"<h3>{_e(k)}</h3>{_table(v)}" for k, v in counts.items() if isinstance(v, dict) and v)
    body = {
        "agreement": _agreement(data),
        "hardest": _hardest(data),
        "margins": _margins(manifest, data),
        "sources": _sources(data, upstream),
        "dead-letters": _dead_letters(data),
        "timing": _timing(manifest, upstream),
        "counts": (f"<img alt='Counts through the score stage' src='data:image/png;base64,{stage_bars(stages)}'>"
                   f"{_table(scalar_counts)}{breakdowns}"),
        "scores": scores,
        "config": f"{_table(config)}<h3>Versions</h3>{_table(manifest.get('versions', {}))}",
    }
    nav = "".join(f"<a href='#{key}'>{_e(title)}</a>" for key, title in SECTIONS)
    sections = "".join(f"<h2 id='{key}'>{_e(title)}</h2>{body[key]}" for key, title in SECTIONS)
    scorer = manifest["config"].get("scorer")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>toolrm report</title><style>{STYLE}</style></head><body>
<h1>toolrm: scored and selected tool-call preference data</h1>
<p>{_num(counts.get('pairs'))} pairs from {_num(counts.get('examples_in'))} examples and
{_num(counts.get('candidates_in'))} candidates, scored by <b>{_e(scorer)}</b>. Every candidate ends in a pair, in
<code>filtered/</code> with its reason, in <code>quarantine/</code> with its example, or in the dead letter
(the same output given twice for one example counts once).</p>
{_warnings(manifest, data)}
<nav>{nav}</nav>
{sections}
</body></html>
"""
