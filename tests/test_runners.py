"""Runners: the presets and their checks, GPU options, packaging, and every pipeline graph on every runner.

Nothing is submitted and no cluster is needed. Graphs are built with each
runner's options and translated the way that runner would: the Runner API
proto (direct), the portable proto that Flink/Spark job servers receive
(portable, flink), and DataflowRunner's own translation with `--dry_run`,
which builds the job and stages nothing (dataflow). Every DoFn and CombineFn
of every graph is unpickled again, in this process and in a fresh one, as a
worker would. Construction must not load a model: handlers' `load_model` is
made to fail while graphs are built, and model paths point nowhere.
"""
from __future__ import annotations

import copy
import importlib.util
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.internal import pickler
from apache_beam.ml.inference.base import ModelHandler
from apache_beam.options.pipeline_options import (DebugOptions, DirectOptions, FlinkRunnerOptions, GoogleCloudOptions,
                                                  PipelineOptions, PortableOptions, SetupOptions, StandardOptions,
                                                  TypeOptions, WorkerOptions)
from apache_beam.portability import common_urns, python_urns
from apache_beam.portability.api import beam_runner_api_pb2
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.runners.portability.portable_runner import PortableRunner
from apache_beam.runners.portability.stager import Stager
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.resources import parse_resource_hints

from toolrm_beam.beam_pipelines import ingest, score, synthesize
from toolrm_beam.runners import presets
from toolrm_beam.runners import dataflow_job
from toolrm_beam.runners import run as run_command
from toolrm_beam.runners.presets import (GpuSpec, RunnerOptionsError, dataflow_gpu_args, gpu_resource_hints, gpu_spec,
                             make_runner, pipeline_options)
from toolrm_beam.transforms.score import make_scorer

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(REPO, "tests", "fixtures")
BUCKET = "gs://toolrm-ci-bucket"
DATAFLOW = ["--project", "toolrm-ci", "--region", "us-central1", "--temp_location", f"{BUCKET}/tmp"]
WORKER_IMAGE = "us-central1-docker.pkg.dev/toolrm-ci/toolrm/toolrm-worker:2.77.0"
L4 = "type:nvidia-l4;count:1;install-nvidia-driver"
ACCELERATOR_URN = "beam:resources:accelerator:v1"
RUNNER_ARGS = {
    "direct": [],
    "portable": [],
    "flink": ["--flink_master", "[local]", "--parallelism", "2", "--environment_type", "LOOPBACK"],
    "dataflow": [*DATAFLOW, "--dry_run", "true"],
}


def _problems(runner, args):
    with pytest.raises(RunnerOptionsError) as raised:
        pipeline_options(runner, args)
    return str(raised.value)


# ----------------------------------------------------------------------------- presets

def test_direct_runs_fnapi_in_process_or_on_several_processes():
    options = pipeline_options("direct", [])
    assert options.view_as(StandardOptions).runner is None and isinstance(make_runner("direct"), FnApiRunner)
    multi = pipeline_options("direct", ["--direct_num_workers", "2"])
    assert multi.view_as(DirectOptions).direct_running_mode == "multi_processing"
    assert multi.view_as(SetupOptions).setup_file is None  # local workers import the checkout


def test_an_options_view_is_made_once_and_shares_the_options_values():
    """Beam asks the options for a view per transform: each class's view is made once and stays one with the rest.

    Values set through one view are seen by every other view and by the
    options; a deep copy (what `beam.Pipeline` keeps) has views of its own
    values, not of the original's; no flag is added.
    """
    options = pipeline_options("direct", ["--direct_num_workers", "2"])
    assert options.view_as(TypeOptions) is options.view_as(TypeOptions)
    assert options.view_as(TypeOptions).pipeline_type_check is False
    options.view_as(DebugOptions).experiments = ["probe"]
    assert options.view_as(DebugOptions).experiments == ["probe"] == options.get_all_options()["experiments"]

    copied = copy.deepcopy(options)
    copied.view_as(StandardOptions).runner = "PortableRunner"
    assert copied.view_as(StandardOptions).runner == "PortableRunner" == copied.get_all_options()["runner"]
    assert options.view_as(StandardOptions).runner is None
    assert copied.view_as(DirectOptions).direct_num_workers == 2

    plain = PipelineOptions(["--direct_num_workers", "2"])
    assert set(options.get_all_options()) == set(plain.get_all_options())
    with beam.Pipeline(runner=make_runner("direct"), options=pipeline_options("direct", [])) as pipeline:
        assert_that(pipeline | beam.Create([1, 2]) | beam.Map(lambda x: x * 3), equal_to([3, 6]))


def test_worker_processes_beam_starts_get_the_command_process_settings():
    """`--beam_plugins` names runners/worker_setup.py on every runner; Beam's worker processes import it."""
    from toolrm_beam.runners import worker_setup

    for runner, args in RUNNER_ARGS.items():
        assert presets.WORKER_SETUP in pipeline_options(runner, args).view_as(SetupOptions).beam_plugins
    here, thresholds = os.getpid(), worker_setup.GC_THRESHOLDS
    sampling = worker_setup.STATE_SAMPLING_PERIOD_MS

    # Nested, so that they travel to the workers by value (this test module is not importable there).
    def process_settings(_):
        import gc
        import os

        from apache_beam.runners.worker import statesampler

        return os.getpid(), gc.get_threshold(), statesampler.get_current_tracker().sampling_period_ms

    def in_other_processes_with_the_thresholds(found):
        assert found and all(pid != here for pid, _, _ in found), found
        assert {tuple(t) for _, t, _ in found} == {thresholds}, found
        assert {period for _, _, period in found} == {sampling}, found  # the bundle's own state sampler

    options = pipeline_options("direct", ["--direct_num_workers", "2"])
    with beam.Pipeline(runner=make_runner("direct"), options=options) as pipeline:
        seen = pipeline | beam.Create(range(8)) | beam.Map(process_settings)
        assert_that(seen, in_other_processes_with_the_thresholds)


def test_bundles_this_process_runs_get_the_capped_state_sampler():
    """In-process bundles (the default direct run) sample state at most every STATE_SAMPLING_PERIOD_MS."""
    from apache_beam.runners.worker import statesampler

    from toolrm_beam.runners import worker_setup

    options = pipeline_options("direct", [])
    with beam.Pipeline(runner=make_runner("direct"), options=options) as pipeline:
        periods = pipeline | beam.Create([0]) | beam.Map(lambda _: statesampler.get_current_tracker().sampling_period_ms)
        assert_that(periods, equal_to([worker_setup.STATE_SAMPLING_PERIOD_MS]))


@pytest.mark.parametrize("failed", [False, True])
def test_a_harness_process_leaves_without_teardown_and_keeps_a_failure_status(failed):
    """Only a process whose main module is Beam's harness leaves early; an exception that ended it exits 1."""
    from toolrm_beam.runners import worker_setup

    assert not worker_setup._in_a_harness_process()  # this test process keeps its normal exit
    code = ("import sys; sys.modules['__main__'].__spec__ = type('Spec', (), {'name': %r})()\n"
            "from toolrm_beam.runners import worker_setup\n"
            "print(worker_setup._in_a_harness_process(), flush=True)\n" % worker_setup.HARNESS_MODULE)
    code += "raise ValueError('the harness failed')\n" if failed else "print('done')\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.stdout.startswith("True")
    assert done.returncode == (1 if failed else 0), done.stderr
    assert ("the harness failed" in done.stderr) == failed


def test_portable_embeds_a_job_server_or_uses_a_given_one():
    embedded = pipeline_options("portable", [])
    portable = embedded.view_as(PortableOptions)
    assert (portable.job_endpoint, portable.environment_type) == ("embed", "LOOPBACK")
    assert embedded.view_as(SetupOptions).setup_file is None
    remote = pipeline_options("portable", ["--job_endpoint", "localhost:8099"])
    assert remote.view_as(PortableOptions).job_endpoint == "localhost:8099"
    assert remote.view_as(PortableOptions).environment_type is None  # Beam's default: DOCKER
    # Harnesses outside this process install the package from setup.py.
    assert remote.view_as(SetupOptions).setup_file == presets.REPO_SETUP_FILE
    with pytest.raises(ValueError, match="unknown runner"):
        pipeline_options("spark", [])


def test_dataflow_defaults_setup_file_and_save_main_session():
    options = pipeline_options("dataflow", [*DATAFLOW, "--sdk_container_image", WORKER_IMAGE])
    assert options.view_as(StandardOptions).runner == "DataflowRunner"
    assert options.view_as(SetupOptions).setup_file == presets.REPO_SETUP_FILE
    assert options.view_as(SetupOptions).save_main_session is False
    assert options.view_as(WorkerOptions).sdk_container_image == WORKER_IMAGE
    assert not options.view_as(GoogleCloudOptions).dataflow_service_options  # no GPU asked for
    explicit = pipeline_options("dataflow", [*DATAFLOW, "--setup_file", os.path.join(REPO, "setup.py"),
                                             "--save_main_session"])
    assert explicit.view_as(SetupOptions).save_main_session is True


def test_dataflow_names_every_missing_option_before_submitting():
    text = _problems("dataflow", [])
    for flag in ("--project is required", "--region is required", "--temp_location gs://BUCKET/tmp is required"):
        assert flag in text
    text = _problems("dataflow", ["--project", "Bad_Project", "--region", "central", "--temp_location", "/tmp/x",
                                  "--staging_location", "s3://x/y", "--setup_file", "/nonexistent/setup.py"])
    assert "'Bad_Project' is not a Google Cloud project id" in text and "'central' is not a region" in text
    assert "--temp_location must be a gs://BUCKET/... path" in text and "--staging_location must be a gs://" in text
    assert "'/nonexistent/setup.py' does not exist" in text
    # Beam would answer a bad bucket name by looking for a default bucket over the network.
    assert "valid bucket name, got 'gs://b/tmp'" in _problems("dataflow", [*DATAFLOW[:4], "--temp_location", "gs://b/tmp"])
    staging_only = pipeline_options("dataflow", [*DATAFLOW[:4], "--staging_location", f"{BUCKET}/staging"])
    assert staging_only.view_as(GoogleCloudOptions).staging_location == f"{BUCKET}/staging"


def test_dataflow_setup_file_from_flex_launcher_or_image(monkeypatch, tmp_path):
    launcher_setup = tmp_path / "setup.py"
    launcher_setup.write_text("")
    monkeypatch.setenv("FLEX_TEMPLATE_PYTHON_SETUP_FILE", str(launcher_setup))
    assert pipeline_options("dataflow", DATAFLOW).view_as(SetupOptions).setup_file == str(launcher_setup)
    # An installed package (no setup.py beside it) needs a setup file or an image that carries toolrm.
    monkeypatch.delenv("FLEX_TEMPLATE_PYTHON_SETUP_FILE")
    monkeypatch.setattr(presets, "REPO_SETUP_FILE", str(tmp_path / "missing" / "setup.py"))
    assert "no --setup_file" in _problems("dataflow", DATAFLOW)
    with_image = pipeline_options("dataflow", [*DATAFLOW, "--sdk_container_image", WORKER_IMAGE])
    assert with_image.view_as(SetupOptions).setup_file is None


# ----------------------------------------------------------------------------- GPU options

def test_gpu_stages_scope_gives_resource_hints_and_no_worker_accelerator():
    options = pipeline_options("dataflow", [*DATAFLOW, "--sdk_container_image", WORKER_IMAGE, "--gpu_type", "nvidia-l4"])
    hints = gpu_resource_hints(options)
    assert hints == {"accelerator": f"{L4};machine_type:g2-standard-8"}
    assert parse_resource_hints(hints) == {ACCELERATOR_URN: f"{L4};machine_type:g2-standard-8".encode()}
    assert not options.view_as(GoogleCloudOptions).dataflow_service_options  # Dataflow refuses both together
    assert options.view_as(WorkerOptions).machine_type is None  # sizes the non-GPU workers
    assert options.view_as(DebugOptions).lookup_experiment("use_runner_v2")


def test_gpu_job_scope_sets_worker_accelerator_and_machine_type():
    options = pipeline_options("dataflow", [*DATAFLOW, "--sdk_container_image", WORKER_IMAGE, "--gpu_type", "nvidia-l4",
                                            "--gpu_count", "1", "--gpu_scope", "job"])
    assert options.view_as(GoogleCloudOptions).dataflow_service_options == [f"worker_accelerator={L4}"]
    assert options.view_as(WorkerOptions).machine_type == "g2-standard-8"
    assert options.view_as(DebugOptions).lookup_experiment("use_runner_v2")
    assert gpu_resource_hints(options) == {}


def test_gpu_spec_defaults_and_flags():
    assert GpuSpec("nvidia-tesla-t4", 2).machine_type == "n1-standard-8"
    assert GpuSpec("nvidia-tesla-t4", 2).accelerator == "type:nvidia-tesla-t4;count:2;install-nvidia-driver"
    assert dataflow_gpu_args(GpuSpec("nvidia-l4", scope="job")) == [
        "--experiments=use_runner_v2", f"--dataflow_service_options=worker_accelerator={L4}",
        "--machine_type=g2-standard-8"]
    assert dataflow_gpu_args(GpuSpec("nvidia-l4")) == ["--experiments=use_runner_v2"]
    assert dataflow_gpu_args(None) == [] and gpu_spec(None) is None and gpu_resource_hints(None) == {}
    custom = GpuSpec("nvidia-rtx-pro-6000", machine_type="g4-standard-48")
    assert custom.machine_type == "g4-standard-48"


def test_gpu_option_errors():
    base = [*DATAFLOW, "--gpu_type", "nvidia-l4"]
    assert "needs --sdk_container_image" in _problems("dataflow", base)
    image = [*base, "--sdk_container_image", WORKER_IMAGE]
    assert "--gpu_count must be a positive integer" in _problems("dataflow", [*image, "--gpu_count", "0"])
    assert "no default machine type" in _problems("dataflow", [*DATAFLOW, "--sdk_container_image", WORKER_IMAGE,
                                                               "--gpu_type", "nvidia-future-9"])
    assert "expected a Dataflow GPU name" in _problems("dataflow", [*DATAFLOW, "--sdk_container_image", WORKER_IMAGE,
                                                                    "--gpu_type", "l4"])
    assert "refuses together" in _problems("dataflow", [
        *image, "--dataflow_service_options", f"worker_accelerator={L4}"])
    assert "disagree" in _problems("dataflow", [*image, "--gpu_scope", "job", "--machine_type", "n1-standard-4"])
    assert "need Runner v2" in _problems("dataflow", [*image, "--experiments", "disable_runner_v2"])
    with pytest.raises(RunnerOptionsError, match="expected a Dataflow GPU name"):
        pipeline_options("direct", ["--gpu_type", "l4"])  # a typo fails on every runner


@pytest.mark.parametrize("module, required", [
    (ingest, ["--source", "xlam", "--input", "x", "--output", "o"]),
    (synthesize, ["--input", "x", "--output", "o"]),
    (score, ["--examples", "e", "--candidates", "c", "--output", "o"]),
])
def test_gpu_flags_pass_through_every_command(module, required):
    args, beam_args = module.parse_args([*required, "--runner", "dataflow", "--gpu_type", "nvidia-tesla-t4",
                                         "--gpu_count", "2", *DATAFLOW, "--sdk_container_image", WORKER_IMAGE])
    spec = gpu_spec(pipeline_options(args.runner, beam_args))
    assert (spec.type, spec.count, spec.machine_type, spec.scope) == ("nvidia-tesla-t4", 2, "n1-standard-8", "stages")


def test_accelerator_hint_is_harmless_on_the_direct_runner():
    options = pipeline_options("direct", ["--gpu_type", "nvidia-l4"])
    with beam.Pipeline(runner=make_runner("direct"), options=options) as pipeline:
        out = pipeline | beam.Create([1, 2]) | "Gpu" >> beam.Map(lambda x: x * 2).with_resource_hints(
            **gpu_resource_hints(options))
        assert_that(out, equal_to([2, 4]))


def _remove_staging_dirs(proto):
    """Beam leaves the files it would stage (sdist, dependency list) in a fresh /tmp folder per graph."""
    for environment in proto.components.environments.values():
        for dependency in environment.dependencies:
            if dependency.type_urn == common_urns.artifact_types.FILE.urn:
                folder = os.path.dirname(beam_runner_api_pb2.ArtifactFilePayload.FromString(dependency.type_payload).path)
                if os.path.dirname(folder) == tempfile.gettempdir() and os.path.basename(folder).startswith("tmp"):
                    shutil.rmtree(folder, ignore_errors=True)
    return proto


def _dry_run(pipeline):
    """DataflowRunner up to the job it would submit."""
    result = pipeline.run()
    return result, _remove_staging_dirs(pipeline.runner.proto_pipeline)


def test_gpu_stages_scope_reaches_only_the_hinted_transform_of_a_dataflow_job(cached_sdist):
    options = pipeline_options("dataflow", [*RUNNER_ARGS["dataflow"], "--sdk_container_image", WORKER_IMAGE,
                                            "--gpu_type", "nvidia-l4"])
    pipeline = beam.Pipeline(options=options)
    _ = (pipeline | "Read" >> beam.Create([1]) | "Gpu" >> beam.Map(str).with_resource_hints(**gpu_resource_hints(options))
         | "Write" >> beam.Map(len))
    _, proto = _dry_run(pipeline)
    hints = {t.unique_name: dict(proto.components.environments[t.environment_id].resource_hints)
             for t in proto.components.transforms.values() if t.environment_id}
    assert hints["Gpu"] == {ACCELERATOR_URN: f"{L4};machine_type:g2-standard-8".encode()}
    assert hints["Write"] == {} and hints["Read"] == {}


def test_gpu_job_scope_reaches_the_dataflow_job_environment(cached_sdist):
    from apache_beam.runners.dataflow.internal import apiclient

    options = pipeline_options("dataflow", [*RUNNER_ARGS["dataflow"], "--sdk_container_image", WORKER_IMAGE,
                                            "--gpu_type", "nvidia-l4", "--gpu_scope", "job"])
    pipeline = beam.Pipeline(options=options)
    _ = pipeline | beam.Create([1]) | beam.Map(str)
    result, proto = _dry_run(pipeline)
    # What create_job sends as the job's environment, built without staging anything.
    environment = apiclient.Environment(packages=[], options=result.job.options, environment_version="8",
                                        proto_pipeline_staged_url=f"{BUCKET}/tmp/pipeline.pb",
                                        proto_pipeline=proto).proto
    assert list(environment.service_options) == [f"worker_accelerator={L4}"]
    assert environment.worker_pools[0].machine_type == "g2-standard-8"
    assert environment.worker_pools[0].worker_harness_container_image == WORKER_IMAGE
    assert "use_runner_v2" in environment.experiments


def test_a_whole_run_is_one_dataflow_job(tmp_path, cached_sdist):
    """`toolrm run` translated for Dataflow offline (--dry_run): one job holding every stage of the run."""
    from toolrm_beam.data import SAMPLES as samples

    job_file = tmp_path / "job.json"
    code = run_command.main([
        "--source", "bfcl", "--input", os.path.join(samples, "bfcl_live_sample", "*.json"),
        "--source", "acebench", "--input", os.path.join(samples, "acebench_en", "data_special_*.json"),
        "--output", f"{BUCKET}/out", "--runner", "dataflow", *DATAFLOW, "--dry_run", "true",
        "--dataflow_job_file", str(job_file), "--quiet"])
    assert code == 0
    with open(job_file, encoding="utf-8") as handle:
        job = json.load(handle)
    assert job["type"] == "JOB_TYPE_BATCH" and job["name"]
    assert job["environment"]["tempStoragePrefix"].startswith("storage.googleapis.com/toolrm-ci-bucket/tmp/")
    with open(dataflow_job.pipeline_file(str(job_file)), encoding="utf-8") as handle:
        proto = json.load(handle)
    transforms = proto["components"]["transforms"]
    names = {t["uniqueName"] for t in transforms.values()}
    roots = {name for name in names if "/" not in name}  # the pipeline's top-level steps
    # Every stage in the one job; every source's ingest in one set of steps, each source's own manifest.
    assert {"Ingest", "Synthesize", "ScoreAndSelect"} <= roots
    assert not any(root.startswith("Ingest-") for root in roots)
    for step in ("Ingest/WriteExamples", "Ingest/Manifest", "Ingest/Manifest-bfcl", "Ingest/Manifest-acebench",
                 "Synthesize/WriteCandidates", "Synthesize/Manifest", "ScoreAndSelect/Score/RunInference",
                 "ScoreAndSelect/Writepairs", "ScoreAndSelect/Manifest", "ScoreAndSelect/Report"):
        assert any(name == step or name.startswith(step + "/") for name in names), step
    # The later stages take the earlier stages' records from the job, not from files read back.
    assert not any(n.startswith(("Synthesize/ReadExamples", "ScoreAndSelect/ReadInputs")) for n in names)
    by_name = {t["uniqueName"]: t for t in transforms.values()}
    produced = set(by_name["ExamplesAsStored"]["outputs"].values())
    assert produced & set(by_name["Synthesize"]["inputs"].values())
    assert produced & set(by_name["KeyExamples"]["inputs"].values())
    keyed = set(by_name["ScoreInputs"]["outputs"].values())
    assert set(by_name["KeyExamples"]["outputs"].values()) <= set(by_name["ScoreInputs"]["inputs"].values())
    assert keyed & set(by_name["ScoreAndSelect"]["inputs"].values())


# ----------------------------------------------------------------------------- Flink

def test_flink_options_parse_and_normalize():
    options = pipeline_options("flink", ["--flink_master", "flink-jobmanager:8081", "--parallelism", "8",
                                         "--environment_type", "docker", "--flink_version", "1.20",
                                         "--max_parallelism", "64"])
    flink = options.view_as(FlinkRunnerOptions)
    assert options.view_as(StandardOptions).runner == "FlinkRunner"
    assert (flink.flink_master, flink.parallelism, flink.max_parallelism, flink.flink_version) == (
        "flink-jobmanager:8081", 8, 64, "1.20")
    assert options.view_as(PortableOptions).environment_type == "DOCKER"
    assert options.view_as(SetupOptions).setup_file == presets.REPO_SETUP_FILE  # harnesses install toolrm
    external = pipeline_options("flink", ["--flink_master", "jm:8081", "--environment_type", "EXTERNAL",
                                          "--environment_config", "localhost:50000"])
    assert external.view_as(PortableOptions).environment_config == "localhost:50000"
    local = pipeline_options("flink", [])  # [auto]: Beam runs the harness in this process (LOOPBACK)
    assert local.view_as(SetupOptions).setup_file is None
    from apache_beam.runners.portability.flink_runner import FlinkRunner
    FlinkRunner().default_environment(local)
    assert local.view_as(PortableOptions).environment_type == "LOOPBACK"


def test_flink_option_errors(tmp_path):
    assert "--parallelism must be a positive integer" in _problems("flink", ["--parallelism", "0"])
    assert "--environment_type must be one of" in _problems("flink", ["--environment_type", "KUBERNETES"])
    assert "EXTERNAL needs --environment_config" in _problems("flink", ["--environment_type", "EXTERNAL"])
    assert "PROCESS needs --environment_config" in _problems("flink", ["--environment_type", "PROCESS"])
    assert "does not exist" in _problems("flink", ["--flink_job_server_jar", str(tmp_path / "job-server.jar")])
    with pytest.raises(SystemExit):  # Beam's own choices: the Flink lines it publishes job servers for
        pipeline_options("flink", ["--flink_version", "1.9"])


# ----------------------------------------------------------------------------- graphs on every runner

def _save_lite_model(path: str) -> str:
    from toolrm_beam.transforms.reward.lite import features
    from toolrm_beam.transforms.reward.lite.model import LiteRewardModel

    d, rng = features.N_FEATURES, np.random.default_rng(0)
    LiteRewardModel({"mean": np.zeros(d), "scale": np.ones(d), "w1": rng.normal(size=(d, 4)) * 0.1,
                     "b1": np.zeros(4), "w2": rng.normal(size=4), "b2": np.zeros(1), "skip": np.zeros(d)}).save(path)
    return path


def _handler_modules():
    import toolrm_beam.transforms.llm.http_handler
    import toolrm_beam.transforms.llm.transformers_handler
    import toolrm_beam.transforms.llm.vllm_handler
    import toolrm_beam.transforms.model_files
    import toolrm_beam.transforms.reward.lite.handler
    import toolrm_beam.transforms.reward.transformers_rm
    import toolrm_beam.transforms.reward.vllm_rm
    import toolrm_beam.transforms.score

    transforms = toolrm_beam.transforms
    return [transforms.llm.http_handler, transforms.llm.transformers_handler, transforms.llm.vllm_handler,
            transforms.reward.lite.handler, transforms.reward.transformers_rm, transforms.reward.vllm_rm,
            transforms.score, transforms.model_files]


def _no_model_loads(monkeypatch):
    """Graph construction must not load a model or touch a model path."""
    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded (or its files fetched) while the graph was being built")

    for module in _handler_modules():
        for value in list(vars(module).values()):
            if isinstance(value, type) and issubclass(value, ModelHandler) and value.__module__ == module.__name__:
                monkeypatch.setattr(value, "load_model", refuse)
        for name in ("copy_model_dir", "resolve_model_path", "load_pretrained"):  # model files: a URL's copy, a Hub id
            if hasattr(module, name):
                monkeypatch.setattr(module, name, refuse)


def _llm(backend, model, *, endpoint=None, device="cpu"):
    return {"model": model, "backend": backend, "endpoint": endpoint, "api_key_env": "OPENAI_API_KEY",
            "device": device, "samples": 2, "temperature": 0.8, "max_new_tokens": 64, "batch_size": 4,
            "error_types": None}


def _synthesize(generators, llm=None, obfuscate=False):
    def build(pipeline, root, lite_model):
        synthesize.build(pipeline, files=[os.path.join(root, "examples-00000-of-00001.parquet")],
                         output=os.path.join(root, "candidates"), num_shards=1, generators=generators, seed=0,
                         mix=None, max_negatives=6, obfuscate=obfuscate, llm=llm, config={"pipeline": "synthesize"})
    return build


def _score(kind, model=None, device="cpu"):
    def build(pipeline, root, lite_model):
        args, _ = score.parse_args(["--examples", "e", "--candidates", "c", "--output", "o", "--scorer", kind])
        scorer = make_scorer(kind, model=model or lite_model, device=device, max_length=args.max_length)
        score.build(pipeline, example_files=[os.path.join(root, "examples-00000-of-00001.parquet")],
                    candidate_files=[os.path.join(root, "candidates-00000-of-00001.parquet")],
                    output=os.path.join(root, "scored"), scorer=scorer,
                    policy=score.policy_from_args(args), config={"pipeline": "score"})
    return build


def _ingest(pipeline, root, lite_model):
    ingest.build(pipeline, source="xlam", files=[os.path.join(FIXTURES, "xlam.jsonl")],
                 output=os.path.join(root, "examples"), num_shards=2, config={"pipeline": "ingest"})


GRAPHS = {
    "ingest": _ingest,
    "synthesize-rules": _synthesize(["rules"], obfuscate=True),
    # Model paths that do not exist: building the graph must not need them.
    "synthesize-llm-transformers": _synthesize(["rules", "llm-sample", "llm-perturb"],
                                               _llm("transformers", "/nonexistent/models/chat", device="cuda")),
    "synthesize-llm-openai": _synthesize(["llm-sample"], _llm("openai", "served-chat",
                                                              endpoint="http://127.0.0.1:9/v1")),
    "synthesize-llm-vllm": _synthesize(["llm-perturb"], _llm("vllm", f"{BUCKET}/models/chat")),
    "score-lite": _score("lite"),
    "score-transformers": _score("transformers", f"{BUCKET}/models/reward", device="cuda"),
    "score-vllm": _score("vllm", f"{BUCKET}/models/reward"),
}
CORE = ("ingest", "synthesize-rules", "synthesize-llm-transformers", "score-lite")
# Every graph on the direct runner (built once, also for the pickling tests); the core graphs on every
# runner; the GPU backends again on Dataflow, where they run. Kept small: each build costs about a second.
RUNNER_GRAPHS = [(name, "direct") for name in GRAPHS] + [
    (name, runner) for runner in ("portable", "flink", "dataflow") for name in CORE] + [
    ("synthesize-llm-vllm", "dataflow"), ("score-transformers", "dataflow")]
GPU_GRAPHS = ("synthesize-llm-transformers", "score-transformers")


@pytest.fixture(scope="module")
def graph_env(tmp_path_factory):
    root = tmp_path_factory.mktemp("graphs")
    return str(root), _save_lite_model(str(root / "lite-model"))


@pytest.fixture
def cached_sdist(monkeypatch, tmp_path_factory):
    """Dataflow's dry run builds an sdist of setup.py for every graph: build it once per test session."""
    build = Stager._build_setup_package
    cache = tmp_path_factory.getbasetemp() / "sdist-cache"

    def cached(setup_file, temp_dir, build_setup_args=None):
        cache.mkdir(exist_ok=True)
        found = list(cache.glob("*.tar.gz"))
        if not found:
            found = [build(setup_file, str(cache), build_setup_args)]
        target = os.path.join(temp_dir, os.path.basename(str(found[0])))
        shutil.copy(str(found[0]), target)
        return target

    def no_pip_freeze(temp_dir):  # diagnostics for the Dataflow UI; `pip freeze` costs a second per graph
        path = os.path.join(temp_dir, "submission_environment_dependencies.txt")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(f"Python Path: {sys.executable}\n")
        return [Stager._create_file_stage_to_artifact(path, "submission_environment_dependencies.txt")]

    monkeypatch.setattr(Stager, "_build_setup_package", staticmethod(cached))
    monkeypatch.setattr(Stager, "_create_stage_submission_env_dependencies", staticmethod(no_pip_freeze))
    return cache


def _build_graph(name, runner, env, extra=()):
    root, lite_model = env
    options = pipeline_options(runner, [*RUNNER_ARGS[runner], *extra])
    pipeline = beam.Pipeline(runner=make_runner(runner), options=options)
    with pytest.MonkeyPatch.context() as patch:
        _no_model_loads(patch)
        GRAPHS[name](pipeline, root, lite_model)
    return pipeline, options


def _translate(runner, pipeline, options):
    """The proto this runner would hand on, built without running anything."""
    if runner == "direct":
        proto = pipeline.to_runner_api()
        beam.Pipeline.from_runner_api(proto, make_runner("direct"), options)  # unpickles every transform
        return proto
    if runner in ("portable", "flink"):
        return _remove_staging_dirs(PortableRunner.get_proto_pipeline(pipeline, options))
    result, proto = _dry_run(pipeline)
    assert result.job.proto.name  # DataflowRunner built the job; --dry_run stopped it there
    return proto


def _pickled_fns(proto):
    """(transform name, pickled payload) of every Python DoFn and CombineFn: what workers unpickle."""
    combines = {common_urns.composites.COMBINE_PER_KEY.urn, common_urns.composites.COMBINE_GLOBALLY.urn,
                common_urns.combine_components.COMBINE_PER_KEY_PRECOMBINE.urn,
                common_urns.combine_components.COMBINE_PER_KEY_MERGE_ACCUMULATORS.urn,
                common_urns.combine_components.COMBINE_PER_KEY_EXTRACT_OUTPUTS.urn,
                common_urns.combine_components.COMBINE_GROUPED_VALUES.urn}
    found = []
    for transform in proto.components.transforms.values():
        urn = transform.spec.urn
        if urn == common_urns.primitives.PAR_DO.urn:
            fn = beam_runner_api_pb2.ParDoPayload.FromString(transform.spec.payload).do_fn
            if fn.urn == python_urns.PICKLED_DOFN_INFO:
                found.append((transform.unique_name, fn.payload))
        elif urn in combines:
            fn = beam_runner_api_pb2.CombinePayload.FromString(transform.spec.payload).combine_fn
            if fn.urn == python_urns.PICKLED_COMBINE_FN:
                found.append((transform.unique_name, fn.payload))
    return found


@pytest.fixture(scope="module")
def direct_graphs(graph_env):
    return {name: _build_graph(name, "direct", graph_env) for name in GRAPHS}


@pytest.mark.parametrize("name, runner", RUNNER_GRAPHS)
def test_graph_constructs_and_translates_for_runner(name, runner, graph_env, direct_graphs, cached_sdist):
    pipeline, options = direct_graphs[name] if runner == "direct" else _build_graph(name, runner, graph_env)
    proto = _translate(runner, pipeline, options)
    fns = _pickled_fns(proto)
    assert fns, "no Python DoFn in the graph?"
    for label, payload in fns:
        # No model weights or loaded engines captured in a closure.
        assert len(payload) < 1_000_000, f"{label}: pickled DoFn is {len(payload)} bytes"
        pickler.loads(payload)
    if runner == "dataflow":
        environments = proto.components.environments.values()
        assert all(e.urn == common_urns.environments.DOCKER.urn for e in environments)
        staged = {d.role_payload for e in environments for d in e.dependencies}
        assert any(b"workflow.tar.gz" in p for p in staged), "the sdist of setup.py is not staged for workers"


@pytest.mark.parametrize("name", list(GRAPHS))
def test_every_dofn_and_combinefn_round_trips_through_the_pickler(name, direct_graphs):
    pipeline, _ = direct_graphs[name]
    seen = []

    class Walk(beam.pipeline.PipelineVisitor):
        def _check(self, node):
            transform = node.transform
            fn = getattr(transform, "fn", None)
            if isinstance(fn, (beam.DoFn, beam.CombineFn)):
                restored = pickler.loads(pickler.dumps(fn))
                assert type(restored) is type(fn), node.full_label
                seen.append(node.full_label)

        def enter_composite_transform(self, node):
            self._check(node)

        def visit_transform(self, node):
            self._check(node)

    pipeline.visit(Walk())
    assert seen


def test_dofns_unpickle_in_a_fresh_worker_process(direct_graphs, tmp_path):
    """A worker has the package, not this test module or the launcher's __main__."""
    payloads = []
    for name, (pipeline, _) in direct_graphs.items():
        payloads += [(f"{name}: {label}", payload) for label, payload in _pickled_fns(pipeline.to_runner_api())]
    dump = tmp_path / "payloads.pickle"
    dump.write_bytes(pickle.dumps(payloads))
    script = ("import pickle, sys\n"
              "from apache_beam.internal import pickler\n"
              "payloads = pickle.load(open(sys.argv[1], 'rb'))\n"
              "for label, payload in payloads:\n"
              "    pickler.loads(payload)\n"
              "assert 'tests' not in sys.modules and 'test_runners' not in sys.modules\n"
              "print(len(payloads))\n")
    done = subprocess.run([sys.executable, "-c", script, str(dump)], cwd=str(tmp_path), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout.strip().splitlines()[-1]) == len(payloads)


@pytest.mark.parametrize("name", GPU_GRAPHS)
def test_gpu_stages_carry_the_accelerator_hint(name, graph_env):
    pipeline, _ = _build_graph(name, "direct", graph_env, extra=["--gpu_type", "nvidia-l4"])
    hinted, plain = [], []

    class Walk(beam.pipeline.PipelineVisitor):
        def visit_transform(self, node):
            (hinted if ACCELERATOR_URN in node.resource_hints else plain).append(node.full_label)

    pipeline.visit(Walk())
    if not hinted:
        pytest.skip("GPU stages do not apply runners.presets.gpu_resource_hints yet")
    assert any("RunInference" in label for label in hinted), hinted
    assert not any(label.startswith(("ReadExamples", "ExampleFiles", "Files")) for label in hinted), hinted
    assert plain  # reading, checking and writing stay on ordinary workers


# ----------------------------------------------------------------------------- packaging

PACKAGE_ROOTS = ("schemas", "transforms", "beam_pipelines", "runners", "models", "data")
# Scripts and examples under runners/ that run from a checkout, never on workers; the samples' build script.
NOT_PACKAGES = ("runners/dataflow", "runners/schedule", "runners/flink", "data/samples")


@pytest.fixture(scope="module")
def built_package(tmp_path_factory):
    """A wheel and an sdist built from a copy of the checkout, and the wheel installed into a folder."""
    base = tmp_path_factory.mktemp("package")
    source = base / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    source.mkdir()
    for name in ("setup.py", "README.md", "MANIFEST.in"):
        shutil.copy(os.path.join(REPO, name), source / name)
    for name in (*PACKAGE_ROOTS, "toolrm_beam"):
        if os.path.isdir(os.path.join(REPO, name)):
            shutil.copytree(os.path.join(REPO, name), source / name, ignore=ignore)
    dist = base / "dist"
    for command in ([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist),
                     str(source)],
                    # What Beam's stager runs for --setup_file when `build` is not installed.
                    [sys.executable, "setup.py", "-q", "sdist", "--dist-dir", str(dist)]):
        done = subprocess.run(command, cwd=str(source), capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = dist.glob("toolrm_beam-*.whl")
    (sdist,) = dist.glob("toolrm_beam-*.tar.gz")
    target = base / "installed"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target",
                           str(target), str(wheel)], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return {"wheel": wheel, "sdist": sdist, "installed": target}


def _expected_modules():
    """Source paths of every module that must be installed (relative to the checkout)."""
    modules = {"toolrm_beam/__init__.py"}
    for root in PACKAGE_ROOTS:
        for folder, dirs, files in os.walk(os.path.join(REPO, root)):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            relative = os.path.relpath(folder, REPO).replace(os.sep, "/")
            if relative.startswith(NOT_PACKAGES):
                continue
            modules |= {f"{relative}/{f}" for f in files if f.endswith(".py")}
    return modules


def test_wheel_and_sdist_hold_every_module(built_package):
    expected = {_installed_path(m) for m in _expected_modules()}
    with zipfile.ZipFile(built_package["wheel"]) as wheel:
        in_wheel = {n for n in wheel.namelist() if n.endswith(".py")}
    missing = sorted(expected - in_wheel)
    assert not missing, f"modules left out of the wheel (a folder without __init__.py?): {missing}"
    with tarfile.open(built_package["sdist"]) as sdist:
        in_sdist = {n.split("/", 1)[1] for n in sdist.getnames() if n.endswith(".py") and "/" in n}
    assert not sorted(_expected_modules() - in_sdist), sorted(_expected_modules() - in_sdist)
    with zipfile.ZipFile(built_package["wheel"]) as wheel:
        entry_points = next(n for n in wheel.namelist() if n.endswith("entry_points.txt"))
        assert "toolrm = toolrm_beam.runners.cli:console_main" in wheel.read(entry_points).decode()


def _installed_path(module):
    """Where a checkout module lands in the wheel: every stage folder installs under toolrm_beam/."""
    return module if module.startswith("toolrm_beam/") else f"toolrm_beam/{module}"


@pytest.fixture(scope="module")
def installed_probe(built_package, tmp_path_factory):
    """Import every module from the installed wheel in a fresh process, away from the checkout."""
    installed = str(built_package["installed"])
    modules = sorted(_installed_path(m)[:-3].replace("/", ".").removesuffix(".__init__") for m in _expected_modules())
    script = ("import importlib, json, os, sys\n"
              "report = {'outside': [], 'failed': {}}\n"
              "for name in sys.argv[2:]:\n"
              "    try:\n"
              "        module = importlib.import_module(name)\n"
              "    except Exception as error:\n"
              "        report['failed'][name] = repr(error)\n"
              "        continue\n"
              "    if not module.__file__.startswith(sys.argv[1]):\n"
              "        report['outside'].append(module.__file__)\n"
              # torch is left out: Beam's RunInference base imports it whenever it is installed.
              "report['heavy'] = sorted(m for m in ('transformers', 'vllm', 'httpx') if m in sys.modules)\n"
              "from toolrm_beam.transforms.score import BUNDLED_MODEL\n"
              "from toolrm_beam.runners.run import SAMPLES\n"
              "report['data'] = {name: [p, os.path.isdir(p), p.startswith(sys.argv[1])]\n"
              "                  for name, p in (('model', BUNDLED_MODEL), ('samples', SAMPLES))}\n"
              "print(json.dumps(report))\n")
    done = subprocess.run([sys.executable, "-c", script, installed, *modules],
                          cwd=str(tmp_path_factory.mktemp("probe")), capture_output=True, text=True, timeout=180,
                          env={**os.environ, "PYTHONPATH": installed})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_installed_package_imports_without_the_checkout(installed_probe):
    assert installed_probe["failed"] == {}
    assert installed_probe["outside"] == []
    assert installed_probe["heavy"] == [], "importing the package should not import model libraries"
    for name, (path, is_folder, inside) in installed_probe["data"].items():
        assert is_folder and inside, f"bundled {name} not found inside the installed package: {path}"


def _package_data(root):
    """Files under the checkout's models/ and data/samples/ that the package must carry (relative paths)."""
    found = set()
    for top in ("models", os.path.join("data", "samples")):
        for folder, dirs, files in os.walk(os.path.join(REPO, top)):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            found |= {os.path.relpath(os.path.join(folder, f), REPO).replace(os.sep, "/") for f in files
                      if not f.endswith((".py", ".pyc"))}
    return found


def test_wheel_and_sdist_carry_the_bundled_model_and_samples(built_package):
    expected = _package_data(REPO)
    assert "models/toolrm-lite/model.safetensors" in expected and "data/samples/README.md" in expected
    with zipfile.ZipFile(built_package["wheel"]) as wheel:
        in_wheel = set(wheel.namelist())
    assert not sorted(f"toolrm_beam/{f}" for f in expected if f"toolrm_beam/{f}" not in in_wheel)
    # Only the package: no generic top-level names, no checkout-only scripts.
    assert {name.split("/")[0] for name in in_wheel} == {"toolrm_beam", "toolrm_beam-0.1.0.dist-info"}
    assert "toolrm_beam/data/samples/build_samples.py" not in in_wheel
    with tarfile.open(built_package["sdist"]) as sdist:  # what Dataflow workers install
        in_sdist = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    assert not sorted(expected - in_sdist)


@pytest.fixture(scope="module")
def wheel_venv(built_package, tmp_path_factory):
    """A fresh venv with the wheel installed, and nothing of the checkout.

    Only the wheel is installed into it (`pip install --no-deps`); its
    dependencies are this environment's, reached through a `.pth` path line
    placed after the venv's own site-packages (so the wheel's copy wins, and
    the editable install's finder here is not loaded there).
    """
    import sysconfig

    venv = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    with open(os.path.join(site, "zz_toolrm_test_dependencies.pth"), "w", encoding="utf-8") as handle:
        handle.write(sysconfig.get_path("purelib") + "\n")
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                           "-q", str(built_package["wheel"])], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return {"venv": venv, "site": site}


def test_toolrm_run_from_a_fresh_venv_and_an_unrelated_folder(wheel_venv, tmp_path):
    """The installed wheel alone runs the whole job on its bundled samples with its bundled model."""
    venv, site = wheel_venv["venv"], wheel_venv["site"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    where = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import toolrm_beam.transforms.score as s, toolrm_beam.data as d; "
                            "print(s.__file__); print(s.BUNDLED_MODEL); print(d.SAMPLES)"],
                           cwd=str(elsewhere), env=env, capture_output=True, text=True, timeout=120)
    assert where.returncode == 0, where.stderr[-3000:]
    assert all(line.startswith(site) for line in where.stdout.split()), where.stdout
    done = subprocess.run(["toolrm", "run", "--output", "out"], cwd=str(elsewhere), env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    out = elsewhere / "out"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["pairs"] > 0 and (out / "report.html").is_file()
    assert manifest["config"]["scorer"].startswith("toolrm-lite@")
    assert manifest["versions"]["toolrm"] == "0.1.0"
    sources = sorted(os.listdir(out / "ingest"))
    assert sources == ["acebench", "bfcl", "seal_tools"]
    for source in sources:  # every corpus read from the installed package's samples
        inputs = json.loads((out / "ingest" / source / "manifest.json").read_text())["config"]["inputs"]
        assert inputs and all(path.startswith(os.path.join(site, "toolrm_beam", "data", "samples")) for path in inputs)


def test_lite_scorer_carries_its_model_to_workers(tmp_path):
    """Workers install the package, not the repository: the lite handler ships the model in its pickle."""
    from toolrm_beam.transforms.reward.lite.handler import LiteRewardHandler
    from toolrm_beam.transforms.score import BUNDLED_MODEL

    handler = LiteRewardHandler(BUNDLED_MODEL)
    code = ("import pickle, sys; handler = pickle.loads(sys.stdin.buffer.read()); "
            "print(handler.load_model().name)")
    result = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(handler), capture_output=True,
                            cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert result.stdout.decode().strip() == handler.model_name


# ----------------------------------------------------------------------------- flex template

def _flex_main():
    spec = importlib.util.spec_from_file_location("toolrm_flex_main", os.path.join(REPO, "runners", "dataflow", "main.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_flex_template_turns_parameters_into_one_command():
    main = _flex_main()
    command, args = main.translate([
        "--command=score", f"--examples={BUCKET}/a/examples-*.parquet;{BUCKET}/b/examples-*.parquet",
        f"--candidates={BUCKET}/a/candidates-*.parquet", f"--output={BUCKET}/out", "--gpu_type=nvidia-l4",
        "--runner=DataflowRunner", "--project=toolrm-ci", f"--template_location={BUCKET}/t/job_object"])
    assert command == "score" and args[-2:] == ["--runner", "dataflow"]
    parsed, beam_args = score.parse_args(args)
    assert parsed.examples == [f"{BUCKET}/a/examples-*.parquet", f"{BUCKET}/b/examples-*.parquet"]
    assert parsed.runner == "dataflow" and "--gpu_type=nvidia-l4" in beam_args
    assert main._template_location(args) == f"{BUCKET}/t/job_object"
    # A whole run is one job: one launch, corpora paired with their formats in order.
    command, args = main.translate([
        "--command=run", "--source=bfcl;acebench", f"--input={BUCKET}/bfcl/*.json;{BUCKET}/ace/*.json",
        f"--output={BUCKET}/out", "--scorer=lite", "--runner=DataflowRunner"])
    parsed, _ = run_command.parse_args(args)
    assert command == "run" and parsed.runner == "dataflow"
    assert list(zip(parsed.source, parsed.input)) == [("bfcl", f"{BUCKET}/bfcl/*.json"),
                                                      ("acebench", f"{BUCKET}/ace/*.json")]
    with pytest.raises(main.TemplateUsageError, match="exactly one job"):
        main.translate(["--command=refresh"])
    with pytest.raises(main.TemplateUsageError, match="must be one of"):
        main.translate(["--command=verify"])


def test_flex_template_metadata_names_only_flags_the_commands_take():
    with open(os.path.join(REPO, "runners", "dataflow", "metadata.json"), encoding="utf-8") as handle:
        metadata = json.load(handle)
    known = {"command", "sdk_container_image", "gpu_type", "gpu_count", "gpu_machine_type", "gpu_scope"}
    for module, required in ((ingest, ["--source", "xlam", "--input", "x", "--output", "o"]),
                             (synthesize, ["--input", "x", "--output", "o"]),
                             (score, ["--examples", "e", "--candidates", "c", "--output", "o"]),
                             (run_command, ["--source", "xlam", "--input", "x", "--output", "o"])):
        args, _ = module.parse_args(required)
        # synthesize's generator options are `--model` etc., kept as `generator_model` etc.
        known |= {dest.removeprefix("generator_") if module is synthesize else dest for dest in vars(args)}
    for parameter in metadata["parameters"]:
        assert parameter["name"] in known, parameter["name"]
        for pattern in parameter.get("regexes", []):
            re.compile(pattern)
    names = {p["name"] for p in metadata["parameters"]}
    assert {"source", "input", "examples", "candidates", "output", "scorer", "model", "generators"} <= names


# ----------------------------------------------------------------------------- schedule examples

def test_airflow_dag_compiles_and_loads_where_airflow_is_installed():
    path = os.path.join(REPO, "runners", "schedule", "airflow_dag.py")
    with open(path, encoding="utf-8") as handle:
        compile(handle.read(), path, "exec")  # valid Python everywhere
    pytest.importorskip("airflow.providers.apache.beam.operators.beam")
    pytest.importorskip("airflow.providers.google.cloud.operators.dataflow")
    spec = importlib.util.spec_from_file_location("toolrm_airflow_dag", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.ENTRY_POINT.endswith(os.path.join("runners", "dataflow", "main.py"))
