"""Dataflow flex-template entry point: one launch builds one pipeline, which becomes one Dataflow job.

The launcher image (runners/dataflow/Dockerfile) runs this file with the
template's parameters as `--name=value` plus the Beam options it adds itself
(`--runner`, `--project`, `--region`, `--temp_location`, `--template_location`,
`--setup_file`, ...):

    python main.py --command=score --examples='gs://b/x/examples-*.parquet' \
        --candidates='gs://b/x/candidates-*.parquet' --output=gs://b/out --gpu_type=nvidia-l4 ...

`--command` is ingest, synthesize or score; the other parameters are that
command's own flags (see metadata.json). A parameter that the command repeats
(`--input`, `--examples`, `--candidates`) takes several globs separated by
`;`. `toolrm run` and `toolrm refresh` are drivers that submit one job per
stage, wait for each and then publish: a flex-template launch creates exactly
one job, so they run from a machine, a Cloud Run job or Airflow instead (see
runners/schedule/).
"""
from __future__ import annotations

import argparse
import logging
import sys

# The pipelines come from the installed package (`pip install` of the checkout
# in the launcher image), bundled model and sample corpora included.
TEMPLATE_COMMANDS = ("ingest", "synthesize", "score")
DRIVER_COMMANDS = ("run", "refresh")
LIST_FLAGS = ("input", "examples", "candidates")
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
            f"command {known.command!r} submits one Dataflow job per stage and waits for each; a flex-template "
            f"launch creates exactly one job. Launch {', '.join(TEMPLATE_COMMANDS)} as separate templates, or run "
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
    from toolrm_beam.beam_pipelines import ingest, score, synthesize

    module = {"ingest": ingest, "synthesize": synthesize, "score": score}[command]
    template_location = _template_location(args)
    _LOG.info("toolrm %s %s", command, " ".join(args))
    try:
        module.run(args)
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
