"""A Dataflow job built offline: `--runner dataflow --dry_run true` up to the job it would create.

DataflowRunner with `--dry_run true` translates the pipeline into its Job and
stops before anything is staged or submitted. `job_description` completes
that Job the way the Dataflow client does before it submits (the environment,
with the portable pipeline proto inside), without uploading anything: staged
packages are left out and the pipeline's staged URL is where it would go.
`toolrm run --runner dataflow --dry_run true --dataflow_job_file job.json`
writes it (and the pipeline proto beside it), so a run's job can be inspected
offline: one job, every stage in it.
"""
from __future__ import annotations

import json
from typing import Any

from apache_beam.options.pipeline_options import GoogleCloudOptions


def job_description(result: Any) -> dict[str, Any]:
    """The Job a dry run built (`result.job`), as the JSON the Dataflow API receives."""
    from apache_beam.runners.dataflow.internal import apiclient
    from apache_beam.runners.internal import names

    job = result.job
    staging = job.options.view_as(GoogleCloudOptions).staging_location or \
        job.options.view_as(GoogleCloudOptions).temp_location
    job.proto.environment = apiclient.Environment(
        packages=[], options=job.options, environment_version=apiclient._FNAPI_ENVIRONMENT_MAJOR_VERSION,
        proto_pipeline_staged_url=f"{staging.rstrip('/')}/{names.STAGED_PIPELINE_FILENAME}",
        proto_pipeline=job.proto_pipeline).proto
    return json.loads(job.json())


def pipeline_file(job_file: str) -> str:
    """Where the pipeline proto goes beside a job file: `job.json` -> `job.pipeline.json`."""
    return (job_file[:-len(".json")] if job_file.endswith(".json") else job_file) + ".pipeline.json"


def write_job_file(result: Any, path: str) -> dict[str, Any]:
    """Write the dry run's job description to the local file `path`, and beside it the pipeline it runs.

    With Runner v2 the job's steps are the portable pipeline proto (which the
    client stages as `pipeline.pb`), so that is written too, as JSON
    (`pipeline_file(path)`). Returns the job description.
    """
    from google.protobuf import json_format

    description = job_description(result)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(description, handle, indent=1, sort_keys=True)
        handle.write("\n")
    with open(pipeline_file(path), "w", encoding="utf-8") as handle:
        handle.write(json_format.MessageToJson(result.job.proto_pipeline, sort_keys=True))
    return description
