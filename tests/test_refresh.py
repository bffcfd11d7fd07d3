"""`toolrm refresh`: incremental, idempotent, kill-safe dataset versions (DirectRunner, small BFCL slices).

The reward model is a tiny toolrm-lite model written by a fixture, so the
tests do not depend on the bundled model being present.
"""
from __future__ import annotations

import fcntl
import glob
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pyarrow.parquet as pq
import pytest

from toolrm_beam.beam_pipelines import refresh
from toolrm_beam.transforms import fileio
from toolrm_beam.transforms.publish import (ConcurrentPublishError, GCSPublisher, LocalPublisher, Published, decode,
                                publisher_for)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BFCL = os.path.join(REPO, "data", "samples", "bfcl_live_sample")
KINDS = ("pairs", "candidates", "examples", "filtered", "quarantine", "dead_letter")


# ----------------------------------------------------------------------------- helpers

@pytest.fixture(scope="module")
def lite_model(tmp_path_factory):
    """A tiny toolrm-lite reward model with fixed random weights."""
    from toolrm_beam.transforms.reward.lite import features
    from toolrm_beam.transforms.reward.lite.model import LiteRewardModel

    d, hidden = features.N_FEATURES, 4
    rng = np.random.default_rng(0)
    weights = {"mean": np.zeros(d, np.float32), "scale": np.ones(d, np.float32),
               "w1": (rng.normal(size=(d, hidden)) * 0.1).astype(np.float32), "b1": np.zeros(hidden, np.float32),
               "w2": rng.normal(size=hidden).astype(np.float32), "b2": np.zeros(1, np.float32),
               "skip": (rng.normal(size=d) * 0.1).astype(np.float32)}
    path = str(tmp_path_factory.mktemp("lite"))
    LiteRewardModel(weights).save(path)
    return path


def add_bfcl(corpus, *splits):
    """Copy BFCL sample files (and their answer files) into `corpus`."""
    os.makedirs(os.path.join(corpus, "possible_answer"), exist_ok=True)
    for split in splits:
        name = f"BFCL_v3_{split}.json"
        shutil.copy(os.path.join(BFCL, name), os.path.join(corpus, name))
        answers = os.path.join(BFCL, "possible_answer", name)
        if os.path.exists(answers):
            shutil.copy(answers, os.path.join(corpus, "possible_answer", name))


def read_lines(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def write_lines(path, rows):
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in rows)


def refresh_args(dataset, corpus, model, *extra):
    return ["--dataset", str(dataset), "--source", "bfcl", "--input", os.path.join(str(corpus), "*.json"),
            "--model", model, "--gc_grace_s", "0", *extra]


def _split_floats(value):
    """(the value with every float replaced by a marker, the floats in order)."""
    floats = []

    def strip(node):
        if isinstance(node, float):
            floats.append(node)
            return "<float>"
        if isinstance(node, dict):
            return {k: strip(node[k]) for k in sorted(node)}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node
    return json.dumps(strip(value), sort_keys=True, default=str), floats


def content(dataset):
    """The published version's rows of every kind, sorted (file names play no part)."""
    manifest = refresh.load_published(str(dataset))
    return {kind: sorted(_split_floats(row) for row in refresh.read_table(str(dataset), kind, manifest).to_pylist())
            for kind in KINDS}


def assert_same_content(found, expected):
    """Equal rows; floats (reward scores) equal up to float32 rounding, which follows batch composition."""
    for kind in KINDS:
        assert [key for key, _ in found[kind]] == [key for key, _ in expected[kind]], kind
        for (key, a), (_, b) in zip(found[kind], expected[kind]):
            assert np.allclose(np.array(a, dtype=float), np.array(b, dtype=float), rtol=1e-5, atol=1e-6,
                               equal_nan=True), (kind, key[:200], a, b)


def assert_published_valid(dataset):
    """Nothing the manifest lists is missing, altered or unreadable; counts add up; no duplicate pairs."""
    manifest = refresh.load_published(str(dataset))
    assert manifest is not None and manifest["format"] == refresh.FORMAT
    for entry in manifest["files"]:
        path = os.path.join(str(dataset), entry["file"])
        with open(path, "rb") as handle:
            data = handle.read()
        assert fileio.sha256_hex(data) == entry["sha256"], entry["file"]
        assert pq.read_table(path).num_rows == entry["rows"], entry["file"]
        assert entry["run"] in manifest["runs"]
    counts = manifest["counts"]
    assert counts["rows_in"] == counts["rows_written"] + counts["rows_duplicate"] + counts["rows_dead_letter"]
    uuids = refresh.read_table(str(dataset), "pairs", manifest).column("uuid").to_pylist()
    assert len(uuids) == len(set(uuids))
    return manifest


def snapshot(directory):
    """Every file under `directory` with its mtime, size and inode."""
    found = {}
    for root, _, names in os.walk(str(directory)):
        for name in names:
            path = os.path.join(root, name)
            info = os.stat(path)
            found[os.path.relpath(path, str(directory))] = (info.st_mtime_ns, info.st_size, info.st_ino)
    return found


def run_dirs(dataset):
    path = os.path.join(str(dataset), refresh.RUNS)
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def example_ids_of(dataset, split):
    table = refresh.read_table(str(dataset), "examples")
    return {row["example_id"] for row in table.to_pylist() if row["split"] == split}


# ----------------------------------------------------------------------------- incremental refresh

def test_refresh_processes_only_new_and_changed_files(tmp_path, lite_model, capsys):
    corpus, dataset = tmp_path / "corpus", tmp_path / "dataset"
    add_bfcl(str(corpus), "live_simple", "live_irrelevance")
    args = refresh_args(dataset, corpus, lite_model)

    first = refresh.run(args)
    assert first["status"] == "published" and first["version"] == 1
    assert len(first["new_files"]) == 2 and len(first["runs_processed"]) == 1
    assert_published_valid(dataset)
    v1_rows = content(dataset)
    assert v1_rows["pairs"] and v1_rows["candidates"] and len(v1_rows["examples"]) == 50
    [run1] = first["runs_processed"]

    # Second refresh with nothing changed: says so and rewrites nothing.
    before = snapshot(dataset)
    capsys.readouterr()
    assert refresh.main(args) == 0
    assert "no input changed since version 1" in capsys.readouterr().out
    again = refresh.run(args)
    assert again["status"] == "unchanged" and again["version"] == 1
    assert again["runs_processed"] == [] and again["new_files"] == again["changed_files"] == []
    assert snapshot(dataset) == before

    # A new file: only it is processed, in a run of its own; the first run is kept as it was.
    add_bfcl(str(corpus), "live_multiple")
    third = refresh.run(args)
    multiple = os.path.join(str(corpus), "BFCL_v3_live_multiple.json")
    assert third["new_files"] == [multiple]
    assert third["changed_files"] == third["reprocessed_files"] == []
    assert third["runs_kept"] == [run1] and len(third["runs_processed"]) == 1
    [run3] = third["runs_processed"]
    with open(os.path.join(str(dataset), "runs", run3, refresh.RUN_MARKER)) as handle:
        assert list(json.load(handle)["inputs"]) == [multiple]
    assert run_dirs(dataset) == sorted([run1, run3])
    run1_files = {k: v for k, v in before.items() if k.startswith(f"runs/{run1}/")}
    assert {k: v for k, v in snapshot(dataset).items() if k.startswith(f"runs/{run1}/")} == run1_files
    v3 = assert_published_valid(dataset)
    v3_rows = content(dataset)
    assert v3["version"] == 2  # the unchanged refresh published nothing
    v1_pairs, v3_pairs = ({(key, tuple(floats)) for key, floats in rows["pairs"]} for rows in (v1_rows, v3_rows))
    assert v1_pairs < v3_pairs  # the first run's files are the same files: even the scores are identical
    new_pairs = v3_pairs - v1_pairs
    multiple_ids = example_ids_of(dataset, "live_multiple")
    assert multiple_ids and all(json.loads(p[0])["example_id"] in multiple_ids for p in new_pairs)

    # A changed file (rows dropped, a question edited, an answer edited in the side file):
    # its old rows are gone, the new ones present, nothing duplicated.
    simple = os.path.join(str(corpus), "BFCL_v3_live_simple.json")
    answers_path = os.path.join(str(corpus), "possible_answer", "BFCL_v3_live_simple.json")
    rows, answers = read_lines(simple), read_lines(answers_path)
    old_simple_ids = example_ids_of(dataset, "live_simple")
    dropped = [r["id"] for r in rows[-5:]]
    rows = rows[:-5]
    rows[0]["question"][0][-1]["content"] = "Fetch user 7890 and note the special request black, quickly please."
    answers[0]["ground_truth"][0]["get_user_info"]["special"] = ["white"]
    write_lines(simple, rows)
    write_lines(answers_path, answers[:-5])
    fourth = refresh.run(args)
    assert fourth["changed_files"] == [simple]
    assert fourth["reprocessed_files"] == [os.path.join(str(corpus), "BFCL_v3_live_irrelevance.json")]
    assert fourth["runs_retired"] == [run1] and fourth["runs_kept"] == [run3]
    v4 = assert_published_valid(dataset)
    assert run1 not in v4["runs"] and run1 in v4["previous_runs"]
    examples = refresh.read_table(str(dataset), "examples").to_pylist()
    simple_examples = [e for e in examples if e["split"] == "live_simple"]
    assert len(simple_examples) == 20 and not {e["upstream_id"] for e in examples} & set(dropped)
    assert len({e["example_id"] for e in examples}) == len(examples)
    pairs = refresh.read_table(str(dataset), "pairs").to_pylist()
    live_ids = {e["example_id"] for e in examples}
    assert all(p["example_id"] in live_ids for p in pairs)
    assert not (old_simple_ids - {e["example_id"] for e in simple_examples}) & {p["example_id"] for p in pairs}
    edited = [e for e in simple_examples if e["upstream_id"] == rows[0]["id"]]
    assert "quickly please" in edited[0]["messages"] and '"white"' in edited[0]["reference"]
    edited_pairs = [p for p in pairs if p["example_id"] == edited[0]["example_id"]]
    assert edited_pairs and all("quickly please" in json.dumps(p["conversation"]) and
                                "Can you retrieve" not in json.dumps(p["conversation"]) for p in edited_pairs)
    # Incremental equals a from-scratch refresh of the same inputs (compared by rows).
    fresh = tmp_path / "fresh"
    refresh.run(refresh_args(fresh, corpus, lite_model))
    assert_same_content(content(dataset), content(fresh))

    # A concurrent publisher between this refresh's read and its publish: a clear error, nothing published.
    os.remove(multiple)
    original_scan = refresh.scan_inputs

    def scan_then_compete(corpora, *args):
        publisher = LocalPublisher(os.path.join(str(dataset), refresh.MANIFEST))
        current = publisher.read()
        publisher.publish({**current.manifest, "published_at": "competitor"}, current)
        return original_scan(corpora, *args)

    refresh.scan_inputs = scan_then_compete
    try:
        with pytest.raises(ConcurrentPublishError, match="another publisher"):
            refresh.run(args)
    finally:
        refresh.scan_inputs = original_scan
    assert refresh.load_published(str(dataset))["published_at"] == "competitor"

    # A removed file: its run is retired without processing anything; unlisted old runs are collected.
    fifth = refresh.run(args)
    assert fifth["removed_files"] == [multiple] and fifth["runs_processed"] == []
    assert fifth["runs_retired"] == [run3]
    v5 = assert_published_valid(dataset)
    assert v5["version"] == 4 and set(v5["inputs"]) == {simple, os.path.join(str(corpus), "BFCL_v3_live_irrelevance.json")}
    assert run1 in fifth["garbage_collected"] and run1 not in run_dirs(dataset)
    assert run3 in run_dirs(dataset)  # the previous version still lists it
    assert not example_ids_of(dataset, "live_multiple")


def test_fingerprint_covers_side_files(tmp_path):
    corpus = tmp_path / "corpus"
    add_bfcl(str(corpus), "live_simple", "live_irrelevance")
    pattern = [("bfcl", os.path.join(str(corpus), "*.json"))]
    before = refresh.scan_inputs(pattern)
    simple = os.path.join(str(corpus), "BFCL_v3_live_simple.json")
    answers = os.path.join(str(corpus), "possible_answer", "BFCL_v3_live_simple.json")
    assert set(before[simple]["side_files"]) == {answers}
    assert before[simple]["fingerprint"].startswith("sha256:")
    with open(answers, "a") as handle:
        handle.write("\n")
    after = refresh.scan_inputs(pattern)
    assert after[simple]["side_files"] != before[simple]["side_files"]
    irrelevance = os.path.join(str(corpus), "BFCL_v3_live_irrelevance.json")
    assert after[irrelevance] == before[irrelevance]
    plan = refresh.plan_refresh(after, {"inputs": {p: {**r, "run": "a" if p == simple else "b"} for p, r in
                                                   before.items()}, "runs": {"a": {}, "b": {}},
                                        "config_fingerprint": "x"}, "x")
    assert plan["changed"] == [simple] and plan["reprocessed"] == [] and plan["kept_runs"] == ["b"]
    assert plan["batches"] == [[simple]]
    # Runs of at most N files; a content option that changes retires every run.
    plan = refresh.plan_refresh(after, None, "x", files_per_run=1)
    assert plan["batches"] == [[irrelevance], [simple]] and plan["new"] == sorted(after)
    published = {"inputs": {p: {**r, "run": "a"} for p, r in after.items()}, "runs": {"a": {}},
                 "config_fingerprint": "x"}
    assert refresh.plan_refresh(after, published, "x")["batches"] == []
    plan = refresh.plan_refresh(after, published, "y")
    assert plan["config_changed"] and plan["retired_runs"] == ["a"] and plan["batches"] == [sorted(after)]


# ----------------------------------------------------------------------------- killed refreshes

def _cli(args, env_extra=None):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.Popen([sys.executable, "-m", "toolrm_beam.runners.cli", "refresh", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _wait(process, timeout=120):
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, output.decode("utf-8", "replace")


def _kill_when(process, condition, timeout=60):
    """SIGKILL `process` as soon as `condition()` holds (or when it ends by itself)."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if condition():
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    return _wait(process)


def test_killed_refresh_leaves_the_old_version_and_the_next_run_completes(tmp_path, lite_model):
    corpus, dataset, reference = tmp_path / "corpus", tmp_path / "dataset", tmp_path / "reference"
    add_bfcl(str(corpus), "live_simple")
    args = refresh_args(dataset, corpus, lite_model)
    refresh.run(args)
    v1_rows = content(dataset)

    # The next version: a new file and a changed one.
    add_bfcl(str(corpus), "live_irrelevance")
    simple = os.path.join(str(corpus), "BFCL_v3_live_simple.json")
    write_lines(simple, read_lines(simple)[:20])
    refresh.run(refresh_args(reference, corpus, lite_model))  # uninterrupted, from scratch
    expected = content(reference)

    def still_v1(label):
        manifest = assert_published_valid(dataset)
        assert manifest["version"] == 1, label
        assert content(dataset) == v1_rows, label

    # After a random delay: during start-up or an early stage.
    rng = random.Random(os.environ.get("TOOLRM_TEST_SEED", "refresh"))
    # A whole refresh of this corpus takes about 3 s here, start-up included (imports alone about 1.3 s).
    delay = rng.uniform(0.3, 1.5)
    process = _cli(args)
    started = time.monotonic()
    code, output = _kill_when(process, lambda: time.monotonic() - started > delay)
    assert code == -signal.SIGKILL, f"refresh finished within {delay:.1f} s?\n{output}"
    still_v1(f"random delay {delay:.1f} s")

    # While the synthesize stage is writing its files (the first file this attempt writes there).
    attempt_started = time.time()

    def synthesize_writing():
        pattern = os.path.join(str(dataset), "runs", "*", "synthesize", "**")
        return any(os.path.getmtime(p) >= attempt_started for p in glob.glob(pattern, recursive=True)
                   if os.path.isfile(p) or os.path.basename(p).startswith(".tmp-"))
    code, output = _kill_when(_cli(args), synthesize_writing, timeout=240)  # start-up is slow on a loaded machine
    assert code == -signal.SIGKILL, output
    still_v1("mid-synthesize")

    # At named points: the run complete but unpublished; the new manifest staged but not in place.
    for stage in ("run", "publish-temp"):
        code, output = _wait(_cli(args, {refresh.KILL_ENV: stage}))
        assert code == -signal.SIGKILL, (stage, output)
        still_v1(stage)
    assert any(n.startswith(".manifest.json.tmp-") for n in os.listdir(str(dataset)))

    # Killed right after publishing, before collecting garbage: version 2 is whole.
    code, output = _wait(_cli(args, {refresh.KILL_ENV: "published"}))
    assert code == -signal.SIGKILL, output
    assert assert_published_valid(dataset)["version"] == 2

    final = refresh.run(args)  # the rerun after the kills (in-process: same code, no start-up time)
    assert final["status"] == "unchanged"
    manifest = assert_published_valid(dataset)
    assert manifest["version"] == 2
    assert_same_content(content(dataset), expected)
    # The killed attempts shared one run directory; nothing else is left but the retired first run.
    assert len(manifest["runs"]) == 1 and len(run_dirs(dataset)) == 2
    assert not any(".tmp-" in n for n in os.listdir(str(dataset)))
    # The run that was reused is complete: no stray temporaries inside it either.
    [run_id] = manifest["runs"]
    for root, folders, names in os.walk(os.path.join(str(dataset), "runs", run_id)):
        assert not [n for n in names + folders if ".tmp-" in n], root


def test_a_second_refresh_of_a_local_dataset_is_refused_while_one_runs(tmp_path, lite_model):
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    with open(dataset / refresh.LOCK_FILE, "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        with pytest.raises(refresh.RefreshBusyError, match="another refresh"):
            refresh.run(refresh_args(dataset, BFCL, lite_model))


# ----------------------------------------------------------------------------- publishing

def _manifest(version):
    files = [{"file": f"runs/r{version}/pairs-{i:05d}.parquet", "rows": i, "sha256": f"{version:064x}"}
             for i in range(300)]
    return {"format": refresh.FORMAT, "version": version, "files": files,
            "check": fileio.sha256_hex(json.dumps(files, sort_keys=True).encode())}


def _valid(manifest):
    return manifest["check"] == fileio.sha256_hex(json.dumps(manifest["files"], sort_keys=True).encode()) and \
        all(f["file"].startswith(f"runs/r{manifest['version']}/") for f in manifest["files"])


def test_readers_see_a_whole_manifest_while_it_is_published_over_and_over(tmp_path):
    path = str(tmp_path / "manifest.json")
    publisher = LocalPublisher(path)
    publisher.publish(_manifest(1), publisher.read())
    done, reads, problems = threading.Event(), [], []

    def publish():
        try:
            for version in range(2, 122):
                publisher.publish(_manifest(version), publisher.read())
        finally:
            done.set()

    def read():
        reader, seen = LocalPublisher(path), []
        while not done.is_set() or not seen:
            try:
                with open(path, "rb") as handle:  # a plain reader, as any other program would read
                    manifest = decode(handle.read(), path)
                manifest_via_api = reader.read().manifest
            except Exception as error:  # noqa: BLE001 - any failure to read is what this test looks for
                problems.append(repr(error))
                continue
            for found in (manifest, manifest_via_api):
                if not _valid(found):
                    problems.append(f"torn manifest at version {found['version']}")
            if seen and manifest["version"] < seen[-1]:
                problems.append(f"version went back from {seen[-1]} to {manifest['version']}")
            seen.append(manifest_via_api["version"])
        reads.append(len(seen))

    threads = [threading.Thread(target=publish), threading.Thread(target=read), threading.Thread(target=read)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not problems, problems[:5]
    assert min(reads) > 10 and LocalPublisher(path).read().manifest["version"] == 121
    assert not [n for n in os.listdir(str(tmp_path)) if ".tmp-" in n]


def test_local_publisher_refuses_a_stale_version(tmp_path):
    publisher = publisher_for(str(tmp_path / "manifest.json"))
    assert isinstance(publisher, LocalPublisher)
    empty = publisher.read()
    assert empty == Published(None, None)
    first = publisher.publish(_manifest(1), empty)
    with pytest.raises(ConcurrentPublishError, match="version none"):
        publisher.publish(_manifest(2), empty)  # someone published version 1 meanwhile
    publisher.publish(_manifest(2), first)
    with pytest.raises(ConcurrentPublishError, match="read version 1, now version 2"):
        publisher.publish(_manifest(3), first)
    assert publisher.read().manifest["version"] == 2


class _FakeBlob:
    def __init__(self, bucket, name):
        self._bucket, self.name, self.generation, self.cache_control = bucket, name, None, None

    def download_as_bytes(self, if_generation_match=None):
        from google.api_core import exceptions
        with self._bucket.lock:
            stored = self._bucket.objects.get(self.name)
            if stored is None:
                raise exceptions.NotFound("no such object")
            if if_generation_match is not None and stored[0] != if_generation_match:
                raise exceptions.PreconditionFailed("generation changed")
            return stored[1]

    def upload_from_string(self, data, content_type=None, if_generation_match=None):
        from google.api_core import exceptions
        with self._bucket.lock:
            self._bucket.uploads.append(if_generation_match)
            stored = self._bucket.objects.get(self.name)
            current = stored[0] if stored else 0
            if if_generation_match is not None and current != if_generation_match:
                raise exceptions.PreconditionFailed(f"generation is {current}, not {if_generation_match}")
            self._bucket.counter += 1
            self.generation = self._bucket.counter
            self._bucket.objects[self.name] = (self.generation, bytes(data))


class _FakeBucket:
    """An in-memory stand-in for a GCS bucket with generation preconditions."""

    def __init__(self):
        self.objects, self.counter, self.uploads, self.lock = {}, 1000, [], threading.Lock()

    def get_blob(self, name):
        with self.lock:
            stored = self.objects.get(name)
        if stored is None:
            return None
        blob = _FakeBlob(self, name)
        blob.generation = stored[0]
        return blob

    def blob(self, name):
        return _FakeBlob(self, name)


class _FakeClient:
    def __init__(self):
        self.buckets = {}

    def bucket(self, name):
        return self.buckets.setdefault(name, _FakeBucket())


def test_gcs_publisher_uses_generation_preconditions():
    client = _FakeClient()
    url = "gs://bucket/datasets/tools/manifest.json"
    a, b = publisher_for(url, gcs_client=client), publisher_for(url, gcs_client=client)
    assert isinstance(a, GCSPublisher)
    assert a.read() == Published(None, None)
    first = a.publish(_manifest(1), a.read())
    assert client.buckets["bucket"].uploads == [0]  # "must not exist yet"
    seen_by_a, seen_by_b = a.read(), b.read()
    assert seen_by_a.token == seen_by_b.token == first.token
    a.publish(_manifest(2), seen_by_a)
    with pytest.raises(ConcurrentPublishError, match="another publisher"):
        b.publish(_manifest(3), seen_by_b)  # b read version 1; a replaced it
    assert client.buckets["bucket"].uploads == [0, first.token, first.token]
    assert b.read().manifest["version"] == 2

    # Many publishers racing from the same read: exactly one wins; readers always get whole manifests.
    start = a.read()
    results, readers_ok = [], []

    def publish(version):
        try:
            publisher_for(url, gcs_client=client).publish(_manifest(version), start)
            results.append(version)
        except ConcurrentPublishError:
            pass

    def read():
        readers_ok.append(all(_valid(publisher_for(url, gcs_client=client).read().manifest) for _ in range(50)))

    threads = [threading.Thread(target=publish, args=(v,)) for v in range(10, 18)] + \
        [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 1 and all(readers_ok)
    assert a.read().manifest["version"] == results[0]


def test_llm_generator_settings_shape_the_fingerprint_and_reach_synthesize(capsys):
    from toolrm_beam.beam_pipelines import synthesize

    base = ["--dataset", "d", "--source", "bfcl", "--input", "x/*.json"]
    llm = ["--generators", "rules,llm-sample", "--generator_model", "served-7b", "--generator_backend", "openai",
           "--generator_endpoint", "http://127.0.0.1:8000/v1"]
    rules_only, _ = refresh.parse_args(base)
    assert "llm" not in refresh.content_config(rules_only)  # rule-only fingerprints as before generators had options
    with_llm, _ = refresh.parse_args(base + llm)
    config = refresh.content_config(with_llm)
    assert config["llm"]["model"] == "served-7b" and config["model"] is None  # the reward model stays its own
    # Where the model is served and how requests are retried do not change rows; sampling does.
    retried, _ = refresh.parse_args(base + llm + ["--request_timeout_s", "5", "--generator_endpoint", "http://h/v1"])
    assert refresh.content_config(retried) == config
    more_samples, _ = refresh.parse_args(base + llm + ["--samples", "8"])
    assert refresh.content_config(more_samples) != config
    assert synthesize.generator_argv(retried) == ["--model", "served-7b", "--backend", "openai",
                                                  "--endpoint", "http://h/v1", "--request_timeout_s", "5.0"]
    with pytest.raises(SystemExit):
        refresh.parse_args(base + ["--generators", "llm-perturb"])
    assert "--generator_model" in capsys.readouterr().err
