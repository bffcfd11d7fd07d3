"""Runner presets that the CLI's `--runner` selects, and the per-runner option checks.

`direct` runs Beam's FnApiRunner in-process (or multi-process with
`--direct_num_workers N --direct_running_mode multi_processing`) without
first trying the Prism runner, whose binary this network cannot download.
`portable` is the Runner API path that Flink and Spark take, with an embedded
job server (`--job_endpoint=embed`) unless `--job_endpoint host:port` names a
running one. `dataflow` and `flink` go to Beam's own runners, after the checks
below have refused what would only fail after submission (a job that dies on
a worker after ten minutes of GPU start-up is the expensive way to find a typo).

GPU flags (`--gpu_type nvidia-l4 --gpu_count 1 [--gpu_machine_type ...]
[--gpu_scope stages|job]`) are parsed as Beam options (`GpuOptions`), so every
pipeline command accepts them without declaring them. On Dataflow they become:

- `--gpu_scope stages` (default): an `accelerator` resource hint on the GPU
  stages only (`gpu_resource_hints`); Dataflow's right fitting then starts GPU
  workers for those stages and plain workers for the rest. Dataflow refuses
  the `worker_accelerator` service option together with right fitting, so it
  is not set.
- `--gpu_scope job`: every worker gets the GPU (`--dataflow_service_options=
  worker_accelerator=...` and `--machine_type`); no hints.

Other runners ignore accelerator hints; the flags are accepted and unused.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import re

from apache_beam.options.pipeline_options import (DebugOptions, DirectOptions, FlinkRunnerOptions,
                                                  GoogleCloudOptions, PipelineOptions, PortableOptions,
                                                  SetupOptions, StandardOptions, TypeOptions, WorkerOptions)

_LOG = logging.getLogger(__name__)

RUNNERS = ("direct", "portable", "dataflow", "flink")
# Imported by every worker process Beam starts (`--beam_plugins`): the process settings in it.
WORKER_SETUP = "toolrm_beam.runners.worker_setup"

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Present in a checkout (and an editable install); not in an installed wheel,
# where the flex-template launcher names it through FLEX_TEMPLATE_PYTHON_SETUP_FILE.
REPO_SETUP_FILE = os.path.join(REPO_ROOT, "setup.py")

# Machine types a GPU needs (L4 exists only on G2, A100 on A2, H100 on A3;
# T4/V100/P100/P4 attach to N1). One GPU per machine; a larger count wants a
# larger machine, which `--gpu_machine_type` names.
DEFAULT_GPU_MACHINE_TYPES = {
    "nvidia-l4": "g2-standard-8",
    "nvidia-tesla-t4": "n1-standard-8",
    "nvidia-tesla-v100": "n1-standard-8",
    "nvidia-tesla-p100": "n1-standard-8",
    "nvidia-tesla-p4": "n1-standard-8",
    "nvidia-tesla-a100": "a2-highgpu-1g",
    "nvidia-a100-80gb": "a2-ultragpu-1g",
    "nvidia-h100-80gb": "a3-highgpu-1g",
}
GPU_SCOPES = ("stages", "job")
ENVIRONMENT_TYPES = ("DOCKER", "PROCESS", "EXTERNAL", "LOOPBACK")
_FLINK_LOCAL_MASTERS = ("[local]", "[auto]")
_GPU_TYPE = re.compile(r"^nvidia-[a-z0-9-]+$")
_PROJECT = re.compile(r"^([a-z0-9.-]+:)?[a-z][-a-z0-9]{4,28}[a-z0-9]$")
_REGION = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")
_GCS_PATH = re.compile(r"^gs://[a-z0-9][a-z0-9._-]{1,220}[a-z0-9](/.*)?$")


class RunnerOptionsError(ValueError):
    """Options the chosen runner cannot work with, found before anything is built or submitted."""


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1 (a usage error otherwise)."""
    return _bounded_int(text, 1)


def non_negative_int(text: str) -> int:
    """An argparse type: an integer >= 0 (0 usually means "choose for me")."""
    return _bounded_int(text, 0)


def _bounded_int(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
    return value


class GpuOptions(PipelineOptions):
    """GPU workers for the GPU stages (LLM generation, reward scoring). Used by Dataflow."""

    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument("--gpu_type", default=None,
                            help="GPU for the GPU stages, e.g. nvidia-l4 or nvidia-tesla-t4 (Dataflow's names); "
                                 "unset: no GPU")
        parser.add_argument("--gpu_count", type=int, default=1, help="GPUs per GPU worker")
        parser.add_argument("--gpu_machine_type", default=None,
                            help="machine type of GPU workers (default: one that the GPU type attaches to)")
        parser.add_argument("--gpu_scope", default="stages", choices=GPU_SCOPES,
                            help="stages: resource hints give only the GPU stages GPU workers (right fitting); "
                                 "job: every worker gets the GPU")


@dataclasses.dataclass(frozen=True)
class GpuSpec:
    """A validated GPU request."""

    type: str
    count: int = 1
    machine_type: str | None = None
    scope: str = "stages"

    def __post_init__(self):
        if not _GPU_TYPE.match(self.type or ""):
            raise RunnerOptionsError(f"--gpu_type {self.type!r}: expected a Dataflow GPU name such as nvidia-l4 "
                                     f"(known: {', '.join(DEFAULT_GPU_MACHINE_TYPES)})")
        if not isinstance(self.count, int) or self.count < 1:
            raise RunnerOptionsError(f"--gpu_count must be a positive integer, got {self.count!r}")
        if self.scope not in GPU_SCOPES:
            raise RunnerOptionsError(f"--gpu_scope must be one of {', '.join(GPU_SCOPES)}, got {self.scope!r}")
        if self.machine_type is None:
            if self.type not in DEFAULT_GPU_MACHINE_TYPES:
                raise RunnerOptionsError(f"--gpu_type {self.type}: no default machine type known; "
                                         f"give --gpu_machine_type")
            object.__setattr__(self, "machine_type", DEFAULT_GPU_MACHINE_TYPES[self.type])

    @property
    def accelerator(self) -> str:
        """Dataflow's accelerator string: `type:nvidia-l4;count:1;install-nvidia-driver`."""
        return f"type:{self.type};count:{self.count};install-nvidia-driver"


def gpu_spec(options: PipelineOptions | None) -> GpuSpec | None:
    """The GPU request in `options` (None when `--gpu_type` is not given)."""
    if options is None:
        return None
    gpu = options.view_as(GpuOptions)
    if not gpu.gpu_type:
        return None
    return GpuSpec(type=gpu.gpu_type, count=gpu.gpu_count, machine_type=gpu.gpu_machine_type, scope=gpu.gpu_scope)


def gpu_resource_hints(options: PipelineOptions | None) -> dict[str, str]:
    """Resource hints for a GPU stage: `stage.with_resource_hints(**gpu_resource_hints(pipeline.options))`.

    `{"accelerator": "type:nvidia-l4;count:1;install-nvidia-driver;machine_type:g2-standard-8"}`
    with `--gpu_type` and `--gpu_scope stages`; `{}` otherwise (no GPU asked
    for, or every worker has one already). Runners other than Dataflow ignore
    the hint.
    """
    spec = gpu_spec(options)
    if spec is None or spec.scope != "stages":
        return {}
    return {"accelerator": f"{spec.accelerator};machine_type:{spec.machine_type}"}


def dataflow_gpu_args(spec: GpuSpec | None) -> list[str]:
    """The job-level Dataflow flags a GPU request needs (GPUs run only on Runner v2)."""
    if spec is None:
        return []
    args = ["--experiments=use_runner_v2"]
    if spec.scope == "job":
        args += [f"--dataflow_service_options=worker_accelerator={spec.accelerator}",
                 f"--machine_type={spec.machine_type}"]
    return args


def _default_setup_file(options: PipelineOptions) -> str | None:
    """Point `--setup_file` at this repository's setup.py unless the user chose how workers get the package.

    Remote workers (Dataflow; Flink/Spark in DOCKER, PROCESS or EXTERNAL
    environments) install `toolrm` from an sdist of setup.py that Beam builds
    and stages. The flex-template launcher names its copy in
    FLEX_TEMPLATE_PYTHON_SETUP_FILE. Returns the setup file in effect, if any.
    """
    setup = options.view_as(SetupOptions)
    if setup.setup_file:
        return setup.setup_file
    candidate = os.environ.get("FLEX_TEMPLATE_PYTHON_SETUP_FILE") or REPO_SETUP_FILE
    if os.path.isfile(candidate):
        setup.setup_file = candidate
        return candidate
    return None


def _is_gcs(path: str | None) -> bool:
    # Beam answers an invalid bucket name by looking for a default bucket over the network.
    return bool(path and _GCS_PATH.match(path))


def dataflow_options(options: PipelineOptions) -> PipelineOptions:
    """Check and complete options for DataflowRunner; raises `RunnerOptionsError` with every problem at once."""
    cloud = options.view_as(GoogleCloudOptions)
    setup = options.view_as(SetupOptions)
    worker = options.view_as(WorkerOptions)
    debug = options.view_as(DebugOptions)
    problems = []
    if not cloud.project:
        problems.append("--project is required (the Google Cloud project that runs the job)")
    elif not _PROJECT.match(cloud.project):
        problems.append(f"--project {cloud.project!r} is not a Google Cloud project id")
    if not cloud.region:
        problems.append("--region is required (e.g. us-central1; GPU types exist only in some regions)")
    elif not _REGION.match(cloud.region):
        problems.append(f"--region {cloud.region!r} is not a region name such as us-central1")
    if not cloud.temp_location and not cloud.staging_location:
        problems.append("--temp_location gs://BUCKET/tmp is required (Dataflow stages and writes temp files there)")
    for flag, path in (("--temp_location", cloud.temp_location), ("--staging_location", cloud.staging_location)):
        if path and not _is_gcs(path):
            problems.append(f"{flag} must be a gs://BUCKET/... path with a valid bucket name, got {path!r}")

    if not _default_setup_file(options) and not worker.sdk_container_image:
        problems.append(f"no --setup_file: {REPO_SETUP_FILE} does not exist (an installed package, not a "
                        "checkout); pass --setup_file PATH/setup.py, or --sdk_container_image with toolrm installed")
    elif setup.setup_file and not os.path.isfile(setup.setup_file):
        problems.append(f"--setup_file {setup.setup_file!r} does not exist")
    if setup.save_main_session is None:
        # Beam turns it on for Dataflow with cloudpickle when unset. Stages pass
        # everything explicitly; pickling __main__ would only ship the
        # launcher's globals (the `toolrm` script, the flex-template main.py).
        setup.save_main_session = False

    spec = None
    try:
        spec = gpu_spec(options)
    except RunnerOptionsError as error:
        problems.append(str(error))
    if spec is not None:
        if not worker.sdk_container_image:
            problems.append("--gpu_type needs --sdk_container_image: the default Beam image has no CUDA torch; "
                            "build runners/dataflow/worker.Dockerfile and pass its tag")
        if debug.lookup_experiment("disable_runner_v2"):
            problems.append("GPU workers need Runner v2; drop --experiments=disable_runner_v2")
        service = cloud.dataflow_service_options or []
        if spec.scope == "stages" and any(s.startswith("worker_accelerator") for s in service):
            problems.append("--gpu_scope stages uses resource hints (right fitting), which Dataflow refuses "
                            "together with the worker_accelerator service option; use --gpu_scope job or drop it")
        if spec.scope == "job" and worker.machine_type and worker.machine_type != spec.machine_type:
            problems.append(f"--machine_type {worker.machine_type} and --gpu_machine_type {spec.machine_type} "
                            "disagree; with --gpu_scope job every worker is a GPU worker: give one of them")
    if problems:
        raise RunnerOptionsError("dataflow options:\n  " + "\n  ".join(problems))

    if spec is not None:  # the flags of dataflow_gpu_args, merged into what the user gave
        gpu = PipelineOptions(dataflow_gpu_args(spec))
        for experiment in gpu.view_as(DebugOptions).experiments or []:
            debug.add_experiment(experiment)
        cloud.dataflow_service_options = [*(cloud.dataflow_service_options or []),
                                          *(gpu.view_as(GoogleCloudOptions).dataflow_service_options or [])]
        worker.machine_type = gpu.view_as(WorkerOptions).machine_type or worker.machine_type
    return options


def flink_options(options: PipelineOptions) -> PipelineOptions:
    """Check options for FlinkRunner.

    The job server: with no `--flink_job_server_jar`, Beam downloads
    `beam-runners-flink-<version>-job-server` from Maven Central on first use
    (see runners/flink/README.md for the pre-fetched jar and the job-server
    container alternatives).
    """
    flink = options.view_as(FlinkRunnerOptions)
    portable = options.view_as(PortableOptions)
    problems = []
    if flink.parallelism is not None and flink.parallelism != -1 and flink.parallelism < 1:
        problems.append(f"--parallelism must be a positive integer (or -1: Flink's default), got {flink.parallelism}")
    if flink.max_parallelism is not None and flink.max_parallelism != -1 and flink.max_parallelism < 1:
        problems.append(f"--max_parallelism must be positive (or -1), got {flink.max_parallelism}")
    environment = (portable.environment_type or "").upper()
    if environment and environment not in ENVIRONMENT_TYPES:
        problems.append(f"--environment_type must be one of {', '.join(ENVIRONMENT_TYPES)}, got "
                        f"{portable.environment_type!r}")
    if environment == "EXTERNAL" and not (portable.environment_config or portable.environment_options):
        problems.append("--environment_type EXTERNAL needs --environment_config HOST:PORT of a worker pool "
                        "(python -m apache_beam.runners.worker.worker_pool_main --service_port=50000)")
    if environment == "PROCESS" and not (portable.environment_config or portable.environment_options):
        problems.append('--environment_type PROCESS needs --environment_config \'{"command": "/opt/apache/beam/boot"}\'')
    if flink.flink_job_server_jar and "://" not in flink.flink_job_server_jar \
            and not os.path.isfile(flink.flink_job_server_jar):
        problems.append(f"--flink_job_server_jar {flink.flink_job_server_jar!r} does not exist")
    try:
        gpu_spec(options)  # accepted and unused: Flink ignores accelerator hints
    except RunnerOptionsError as error:
        problems.append(str(error))
    if problems:
        raise RunnerOptionsError("flink options:\n  " + "\n  ".join(problems))
    if environment:
        portable.environment_type = environment
    # Beam itself picks LOOPBACK for a local/auto master and DOCKER otherwise.
    if (environment or ("LOOPBACK" if flink.flink_master in _FLINK_LOCAL_MASTERS else "DOCKER")) != "LOOPBACK":
        _default_setup_file(options)
    if environment == "LOOPBACK" and flink.flink_master not in _FLINK_LOCAL_MASTERS:
        _LOG.warning("--environment_type LOOPBACK with --flink_master %s: the cluster's task managers must reach "
                     "this machine; DOCKER, PROCESS or EXTERNAL suit a remote cluster", flink.flink_master)
    return options


def check_beam_args(beam_args: list[str]) -> None:
    """Refuse words in the leftover (Beam) flags that no flag takes.

    Commands hand what they do not parse to Beam, which drops what it cannot
    parse with only a log line. A glob the shell expanded (`--input dir/*.json`
    unquoted) would leave every file after the first there, and they would
    silently not be read.
    """
    takes_value = False
    for word in beam_args:
        if word.startswith("-") and word != "-":
            takes_value = "=" not in word
            continue
        if not takes_value:
            raise RunnerOptionsError(
                f"unexpected argument {word!r}: no option takes it. Quote globs so the shell does not "
                f"expand them (--input 'dir/*.json'); give a repeatable option once per value")
        takes_value = False
    unknown = _unknown_beam_options(beam_args)
    if unknown:
        raise RunnerOptionsError(f"unknown option {unknown[0]!r}: neither this command nor Beam takes it"
                                 + _suggestion(unknown[0]))


def _beam_option_parser():
    """An argparse parser holding every Beam pipeline option, as Beam builds its own."""
    from apache_beam.options.pipeline_options import PipelineOptions, _BeamArgumentParser

    parser = _BeamArgumentParser(allow_abbrev=False)
    for cls in {str(c): c for c in PipelineOptions.__subclasses__()}.values():
        cls._add_argparse_args(parser)  # noqa: SLF001 - how Beam itself collects its options
    return parser


def _unknown_beam_options(beam_args: list[str]) -> list[str]:
    """Flags Beam would drop with only a log line (a misspelt option would silently do nothing)."""
    try:
        parser = _beam_option_parser()
    except (ImportError, AttributeError):  # a Beam without these internals: leave it to Beam
        return []
    _, unknown = parser.parse_known_args(beam_args)
    return [word.split("=", 1)[0] for word in unknown if word.startswith("--")]


def _suggestion(option: str) -> str:
    import difflib

    try:
        known = [flag for action in _beam_option_parser()._actions for flag in action.option_strings]
    except (ImportError, AttributeError):
        return ""
    close = difflib.get_close_matches(option, known, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


class RunOptions(PipelineOptions):
    """PipelineOptions whose view of each options class is made once and reused.

    Beam's `Pipeline.apply` asks the options for their `TypeOptions` view
    twice per transform, and `view_as` builds a fresh argparse parser of
    that class's flags and parses the command line again each time: about
    870 views, 45% of building a run's graph (py-spy, `toolrm run` on the
    shared corpora). A view holds nothing of its own: every view of one
    options object reads and writes that object's one dict of values, so a
    view made earlier is the same as a new one. Adds no flags.
    """

    def view_as(self, cls):
        views = self.__dict__.setdefault("_views", {})  # not an option: __setattr__ would refuse it
        view = views.get(cls)
        if view is None:
            view = views[cls] = super().view_as(cls)
        return view


def pipeline_options(runner: str, beam_args: list[str]) -> PipelineOptions:
    """Build PipelineOptions for a preset; `beam_args` are the user's extra Beam flags."""
    if runner not in RUNNERS:
        raise ValueError(f"unknown runner {runner!r}; choose one of {', '.join(RUNNERS)}")
    check_beam_args(beam_args)
    from toolrm_beam.runners import worker_setup

    worker_setup.prompt_state_sampler()  # for bundles this process runs itself (in-process, loopback)
    options = RunOptions(beam_args)
    if not any(arg.split("=")[0] in ("--pipeline_type_check", "--no_pipeline_type_check") for arg in beam_args):
        # Construction-time checks of declared type hints cost about 40% of building a run's graph (a
        # thousand transforms; measured with cProfile) and the stages declare few hints. Coders are
        # inferred as before. `--pipeline_type_check` turns the checks back on.
        options.view_as(TypeOptions).pipeline_type_check = False
    setup = options.view_as(SetupOptions)
    if WORKER_SETUP not in (setup.beam_plugins or []):
        # Beam imports it in each worker process it starts (runners/worker_setup.py).
        setup.beam_plugins = [*(setup.beam_plugins or []), WORKER_SETUP]
    options.view_as(StandardOptions).runner = {
        "direct": None,  # resolved to an FnApiRunner instance by make_runner
        "portable": "PortableRunner",
        "dataflow": "DataflowRunner",
        "flink": "FlinkRunner",
    }[runner]
    portable = options.view_as(PortableOptions)
    if runner == "portable" and not portable.job_endpoint:
        portable.job_endpoint = "embed"
    if runner == "portable" and portable.job_endpoint == "embed" and not portable.environment_type:
        # An embedded job server runs the SDK harness in this process; the
        # default (a Docker container) needs an engine machines here lack.
        portable.environment_type = "LOOPBACK"
    if runner == "portable" and (portable.environment_type or "DOCKER").upper() != "LOOPBACK":
        # A Flink or Spark job server (--job_endpoint host:8099) whose workers install the package.
        _default_setup_file(options)
    direct = options.view_as(DirectOptions)
    if runner == "direct" and direct.direct_num_workers and direct.direct_num_workers > 1 \
            and direct.direct_running_mode == "in_memory":
        # More than one worker only means something outside in_memory mode.
        direct.direct_running_mode = "multi_processing"
    if runner == "dataflow":
        dataflow_options(options)
    elif runner == "flink":
        flink_options(options)
    else:
        gpu_spec(options)  # a malformed --gpu_type fails on every runner, not only on Dataflow
    return options


def make_runner(runner: str):
    """A runner instance for presets that need one (None: let Beam pick from the options).

    `direct` is Beam's FnApiRunner, started in the background so that its
    counters can be read while it runs (runners/live_direct.py).
    """
    if runner == "direct":
        from toolrm_beam.runners.live_direct import LiveDirectRunner
        return LiveDirectRunner()
    return None
