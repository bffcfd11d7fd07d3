"""Runner presets that the CLI's `--runner` selects.

`direct` runs Beam's FnApiRunner in-process (or multi-process with
`--direct_num_workers N --direct_running_mode multi_processing`) without
first trying the Prism runner, whose binary this network cannot download.
`portable` is the Runner API path that Flink and Spark take, with an embedded
job server (`--job_endpoint=embed`). `dataflow` and `flink` pass through to
Beam's own runners with the options the user gives.
"""
from __future__ import annotations

from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, PortableOptions, StandardOptions

RUNNERS = ("direct", "portable", "dataflow", "flink")


def pipeline_options(runner: str, beam_args: list[str]) -> PipelineOptions:
    """Build PipelineOptions for a preset; `beam_args` are the user's extra Beam flags."""
    if runner not in RUNNERS:
        raise ValueError(f"unknown runner {runner!r}; choose one of {', '.join(RUNNERS)}")
    options = PipelineOptions(beam_args)
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
    direct = options.view_as(DirectOptions)
    if runner == "direct" and direct.direct_num_workers and direct.direct_num_workers > 1 \
            and direct.direct_running_mode == "in_memory":
        # More than one worker only means something outside in_memory mode.
        direct.direct_running_mode = "multi_processing"
    return options


def make_runner(runner: str):
    """A runner instance for presets that need one (None: let Beam pick from the options)."""
    if runner == "direct":
        from apache_beam.runners.portability.fn_api_runner import FnApiRunner
        return FnApiRunner()
    return None
