"""report.html: what a user checks first, computed right, escaped, and rendered cleanly in headless Chromium."""
from __future__ import annotations

import collections
import copy
import glob
import json
import os
import random

import pyarrow.parquet as pq
import pytest

from chromium import find_chromium, render
from toolrm_beam.runners import cli
from toolrm_beam.schemas.records import CANDIDATE_JSON_FIELDS, EXAMPLE_JSON_FIELDS, from_row
from toolrm_beam.transforms import agreement
from toolrm_beam.transforms.reward.lite import load_default

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BFCL = os.path.join(REPO, "data", "samples", "bfcl_live_sample")
# Corpus text is hostile: markup that would run, load or restyle something if it were not escaped.
HOSTILE_REQUEST = "</pre></div><script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">"
HOSTILE_DESCRIPTION = "<iframe src='https://example.com/'></iframe>'\"><svg onload=alert(1)>"
HOSTILE_VALUE = "<b onmouseover=alert(1)>7890</b>"
HOSTILE_ROW = '{"id": "<script>alert(\'dead\')</script>", "question": [[{"role": "user", "content": "</td></tr>'
SECTIONS = ["agreement", "hardest", "margins", "sources", "dead-letters", "timing", "counts", "scores", "config"]


def _jsonl(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """ingest -> synthesize -> score on real BFCL rows, three of them made hostile, plus a broken row."""
    root = tmp_path_factory.mktemp("report")
    corpus = root / "corpus"
    (corpus / "possible_answer").mkdir(parents=True)
    name = "BFCL_v3_live_simple.json"
    rows, answers = _jsonl(os.path.join(BFCL, name))[:16], _jsonl(os.path.join(BFCL, "possible_answer", name))[:16]
    rows = copy.deepcopy(rows)
    for row in rows:  # every example's request, so the hardest pairs shown always carry it
        row["question"][0][-1]["content"] += " " + HOSTILE_REQUEST
    rows[1]["function"][0]["description"] = HOSTILE_DESCRIPTION
    answers[0]["ground_truth"][0]["get_user_info"]["special"] = [HOSTILE_VALUE]
    rows[0]["question"][0][-1]["content"] += f" Special request: {HOSTILE_VALUE}"
    lines = [json.dumps(r) for r in rows]
    lines.insert(5, HOSTILE_ROW)  # malformed JSON: a dead letter whose raw row is hostile too
    (corpus / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    (corpus / "possible_answer" / name).write_text("\n".join(json.dumps(a) for a in answers) + "\n", encoding="utf-8")
    out = root / "out"
    for command in (["ingest", "--source", "bfcl", "--input", str(corpus / "*.json"), "--output", str(out / "ingest")],
                    ["synthesize", "--input", str(out / "ingest"), "--output", str(out / "synthesize")],
                    ["score", "--examples", str(out / "ingest"), "--candidates", str(out / "synthesize"),
                     "--output", str(out / "scored"), "--max_pairs_per_example", "3"]):
        assert cli.main(command) == 0, command
    return out


def _rows(folder, kind, fields=None):
    paths = sorted(glob.glob(os.path.join(folder, f"{kind}-*.parquet")))
    return [from_row(r, fields) if fields else r for path in paths for r in pq.read_table(path).to_pylist()]


def _scored_groups(out):
    """Every candidate with the bundled model's score, grouped by example, computed apart from the pipeline."""
    examples = {e["example_id"]: e for e in _rows(out / "ingest", "examples", EXAMPLE_JSON_FIELDS)}
    by_example = collections.defaultdict(list)
    for candidate in _rows(out / "synthesize", "candidates", CANDIDATE_JSON_FIELDS):
        by_example[candidate["example_id"]].append(candidate)
    model = load_default()
    groups = []
    for example_id, candidates in sorted(by_example.items()):
        example = examples[example_id]
        scores = model.score([example] * len(candidates), [c["output"] for c in candidates])
        groups.append((example, [{**c, "score": float(s)} for c, s in zip(candidates, scores)]))
    return groups


def _brute_force(groups):
    """Pairwise accuracy and exact ROC AUC (no bins) per slice, by enumerating every pair."""
    pairs, pooled = collections.defaultdict(lambda: [0, 0]), collections.defaultdict(lambda: ([], []))
    for example, candidates in groups:
        correct = [c["score"] for c in candidates if c["correct"]]
        for wrong in (c for c in candidates if c["correct"] is False):
            for name in ("all", f"source:{example['source']}", f"error_type:{wrong['error_type']}"):
                pairs[name][0] += len(correct)
                pairs[name][1] += sum(p > wrong["score"] for p in correct)
                pooled[name][1].append(wrong["score"])
        for name in ["all", f"source:{example['source']}"] + sorted(
                {f"error_type:{c['error_type']}" for c in candidates if c["correct"] is False}):
            pooled[name][0].extend(correct)
    auc = {name: sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))
           for name, (pos, neg) in pooled.items() if pos and neg}
    return {name: wins / total for name, (total, wins) in pairs.items() if total}, auc


@pytest.fixture(scope="module")
def page(run, tmp_path_factory):
    if find_chromium() is None:
        if os.environ.get("TOOLRM_REQUIRE_CHROMIUM"):
            pytest.fail("chromium is required here (TOOLRM_REQUIRE_CHROMIUM is set) but not installed")
        pytest.skip("no chromium on PATH (Debian: apt-get install -y chromium)")
    shot = os.environ.get("TOOLRM_REPORT_SCREENSHOT") or str(tmp_path_factory.mktemp("shot") / "report.png")
    # Read back what a person sees: headings, the pair cards per error type, the agreement table, the page's text.
    expression = """(() => {
      const sections = Array.from(document.querySelectorAll('h2')).map(h => h.id);
      const hardest = {};
      let type = null;
      for (let node = document.getElementById('hardest').nextElementSibling; node && node.tagName !== 'H2';
           node = node.nextElementSibling) {
        if (node.tagName === 'H3') { type = node.textContent; hardest[type] = []; }
        if (node.classList.contains('pair')) hardest[type].push(node.querySelector('h4').textContent);
      }
      const agreement = {};
      for (let node = document.getElementById('agreement').nextElementSibling; node && node.tagName !== 'H2';
           node = node.nextElementSibling) {
        if (node.tagName !== 'TABLE') continue;
        for (const row of Array.from(node.rows).slice(1)) {
          const cells = Array.from(row.cells).map(c => c.textContent);
          agreement[cells[0]] = cells;
        }
      }
      const active = document.querySelectorAll(
        'script, iframe, svg, object, embed, [onerror], [onload], [onmouseover]');
      return {sections, hardest, agreement, active: active.length, text: document.body.innerText,
              title: document.title};
    })()"""
    return render(str(run / "scored" / "report.html"), expression=expression, screenshot=shot)


def test_report_renders_in_chromium_with_every_image_and_no_console_error(page):
    assert page["errors"] == []
    assert len(page["images"]) >= 4  # margins, counts, scores by label, scores by error type
    for image in page["images"]:
        assert image["complete"] and image["width"] > 0 and image["height"] > 0, image
    assert page["value"]["sections"] == SECTIONS


def test_hostile_corpus_text_shows_as_text_and_runs_nothing(page):
    seen = page["value"]
    assert seen["title"] == "toolrm report" and seen["active"] == 0
    assert HOSTILE_REQUEST in seen["text"]  # the hardest pairs show their requests, all hostile
    assert "<script>alert('dead')</script>" in seen["text"]  # the dead letter's raw row
    assert "malformed_json" in seen["text"]


def test_hardest_pairs_are_the_smallest_margins_of_each_error_type(run, page):
    pairs = _rows(run / "scored" / "pairs", "pairs")
    expected = collections.defaultdict(list)
    # The margin as the pipeline computed it: the float32 scores' difference (the column is rounded to float32).
    margin = lambda p: p["chosen_score"] - p["rejected_score"]  # noqa: E731
    for pair in sorted(pairs, key=lambda p: (margin(p), p["uuid"])):
        expected[pair["error_type"]].append(f"{margin(pair):.3f}")
    shown = {error_type: [h4.split(" ")[1] for h4 in cards] for error_type, cards in page["value"]["hardest"].items()}
    assert shown == {error_type: margins[:3] for error_type, margins in expected.items()}
    assert len(shown) >= 4  # several error types, each with its own cards


def test_agreement_matches_an_independent_count_of_every_pair(run, page):
    accuracy, auc = _brute_force(_scored_groups(run))
    table = page["value"]["agreement"]
    for name, value in accuracy.items():
        label = name.split(":", 1)[-1]
        assert table[label][2] == f"{value:.3f}", name
        # Binned scores (0.01) make ties of near-equal scores: the AUC may move by a hair.
        assert abs(float(table[label][6]) - auc[name]) < 0.005, name
    assert set(table) == {name.split(":", 1)[-1] for name in accuracy}


def test_sources_dead_letters_and_time_per_stage(run, page):
    text = page["value"]["text"]
    ingested = json.load(open(run / "ingest" / "manifest.json"))["counts"]
    assert ingested["rows_dead_letter"] == 1 and ingested["dead_letter_by_reason"] == {"malformed_json": 1}
    assert f"bfcl\t{ingested['rows_in']}\t1\t0\t{ingested['examples_out']}" in text  # the by-source row
    for stage in ("ingest bfcl", "synthesize", "score"):
        assert f"\n{stage}\t" in text  # a time-per-stage row each (and the dead letter's step)


def test_agreement_partial_sums_merge_in_any_order_and_flag_a_scorer_that_disagrees(run):
    groups = _scored_groups(run)
    parts = [agreement.group_agreement(e, c) for e, c in groups]
    whole = agreement.summarize(agreement.merge(parts))
    shuffled = parts[:]
    random.Random(7).shuffle(shuffled)
    halves = agreement.merge([agreement.merge(shuffled[::2]), agreement.merge(shuffled[1::2])])
    assert agreement.summarize(halves) == whole
    low = min(whole["all"]["pairwise_accuracy"], whole["all"]["roc_auc"]) < agreement.LOW_AGREEMENT
    assert whole["all"]["low"] == low
    # A scorer that agrees with the checker is not called out.
    agreeing = [(e, [{**c, "score": float(c["correct"])} for c in cs]) for e, cs in groups]
    assert not agreement.summarize(agreement.merge(agreement.group_agreement(e, c) for e, c in agreeing))["all"]["low"]
    # The same data scored backwards: the report must call the scorer out.
    flipped = [(e, [{**c, "score": -c["score"]} for c in cs]) for e, cs in groups]
    backwards = agreement.summarize(agreement.merge(agreement.group_agreement(e, c) for e, c in flipped))
    assert backwards["all"]["low"] and backwards["all"]["pairwise_accuracy"] < 0.5
    ties = whole["all"]["ties"]
    assert backwards["all"]["wins"] == whole["all"]["pairs"] - whole["all"]["wins"] - ties


def test_time_per_stage_adds_stages_run_apart_and_not_stages_of_one_pipeline():
    from toolrm_beam.transforms.report import wall_seconds

    def timing(start, seconds):
        return {"started_at": f"2025-01-01T00:{start // 60:02d}:{start % 60:02d}+00:00", "seconds": seconds}

    # Stage commands one after the other (a gap between them is not stage time).
    assert wall_seconds([timing(0, 10.0), timing(15, 20.0), timing(40, 5.0)]) == 35.0
    # One pipeline: every stage starts with it and ends at its own manifest.
    assert wall_seconds([timing(0, 12.0), timing(0, 30.0), timing(1, 44.5)]) == 45.5
    assert wall_seconds([timing(0, 3.0), {}, {"seconds": 4}]) == 3.0
