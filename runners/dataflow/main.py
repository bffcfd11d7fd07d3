"""Dataflow flex-template entry point: one launch builds one pipeline, which becomes one Dataflow job.

The launcher image (runners/dataflow/Dockerfile) runs this file with the
template's parameters as `--name=value` plus the Beam options it adds itself
(`--runner`, `--project`, `--region`, `--temp_location`, `--template_location`,
`--setup_file`, ...):

    python main.py --command=score --examples='gs://b/x/examples-*.parquet' \
        --candidates='gs://b/x/candidates-*.parquet' --output=gs://b/out --gpu_type=nvidia-l4 ...

`--command` is run (the whole pipeline: ingest -> synthesize -> score and
select, one job), or one stage: ingest, synthesize or score; the other
parameters are that command's own flags (see metadata.json). A parameter that
the command repeats (`--source`, `--input`, `--examples`, `--candidates`)
takes several values separated by `;`, in order (`source=bfcl;acebench` with
`input=gs://b/bfcl/*.json;gs://b/ace/*.json`). `toolrm refresh` is a driver:
it compares inputs with the published dataset, runs a job per batch of new
files and then publishes a manifest, so it runs from a machine, a Cloud Run
job or Airflow instead (see runners/schedule/).
"""
from __future__ import annotations

import argparse
import logging
import sys

# The pipelines come from the installed package (`pip install` of the checkout
# in the launcher image), bundled model and sample corpora included.
TEMPLATE_COMMANDS = ("run", "ingest", "synthesize", "score")
DRIVER_COMMANDS = ("refresh",)
LIST_FLAGS = ("source", "input", "examples", "candidates")
LIST_SEPARATOR = ";"

_LOG = logging.getLogger("toolrm.flex_template")


class TemplateUsageError(ValueError):
    """Parameters a flex-template launch cannot run."""


def translate(argv: list[str]) -> tuple[str, list[str]]:
    """Template parameters -> (command, that command's argv with `--runner dataflow`)."""
    parser = argparse.ArgumentParser(prog="flex template", add_help=False, allow_abbrev=False)
    parser.add_argument("--command", required=True)
    parser.add_argument("--runner", default=None)  # the launcher says DataflowRunner; the CLI says dataflow
    for flag in LIST_FLAGS:
        parser.add_argument(f"--{flag}", action="append", default=[])
    known, rest = parser.parse_known_args(argv)
    if known.command in DRIVER_COMMANDS:
        raise TemplateUsageError(
            f"command {known.command!r} decides what to process, waits for its jobs and then publishes; a "
            f"flex-template launch creates exactly one job. Launch `run` for a whole run as one job, or run "
            f"`toolrm {known.command} --runner dataflow ...` from a Cloud Run job or Airflow (runners/schedule/)")
    if known.command not in TEMPLATE_COMMANDS:
        raise TemplateUsageError(f"--command must be one of {', '.join(TEMPLATE_COMMANDS)}, got {known.command!r}")
    if known.runner not in (None, "dataflow", "DataflowRunner"):
        raise TemplateUsageError(f"a flex template runs on Dataflow, not {known.runner!r}")
    args: list[str] = []
    for flag in LIST_FLAGS:
        for value in getattr(known, flag):
            args += [item for part in value.split(LIST_SEPARATOR) if part.strip()
                     for item in (f"--{flag}", part.strip())]
    return known.command, args + rest + ["--runner", "dataflow"]


def _template_location(argv: list[str]) -> str | None:
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--template_location", default=None)
    known, _ = parser.parse_known_args(argv)
    return known.template_location


def _exists(path: str) -> bool:
    from apache_beam.io.filesystems import FileSystems
    try:
        return FileSystems.exists(path)
    except Exception:  # a filesystem we cannot reach counts as "not written"
        return False


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    argv = list(sys.argv[1:] if argv is None else argv)
    command, args = translate(argv)
    template_location = _template_location(args)
    _LOG.info("toolrm %s %s", command, " ".join(args))
    try:
        if command == "run":
            from toolrm_beam.runners import run

            # No progress polling: under the launcher the job only starts once this process has exited.
            if run.main([*args, "--quiet"]) != 0:
                raise TemplateUsageError(f"toolrm run refused its parameters: {' '.join(args)}")
        else:
            from toolrm_beam.beam_pipelines import ingest, score, synthesize

            {"ingest": ingest, "synthesize": synthesize, "score": score}[command].run(args)
    except Exception:
        # Under the launcher the runner only writes the job to --template_location;
        # Dataflow starts it after this process exits, so the command's manifest
        # does not exist yet and reading it fails. The job file is what counts.
        if template_location and _exists(template_location):
            _LOG.info("job written to %s; the launcher submits it (the manifest appears when it finishes)",
                      template_location)
            return 0
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
