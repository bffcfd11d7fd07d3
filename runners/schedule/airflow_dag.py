"""Airflow DAGs for toolrm on Dataflow.

`toolrm_run_dataflow`: `toolrm run` (ingest every corpus -> synthesize ->
score and select) as one `BeamRunPythonPipelineOperator` task with a
`DataflowConfiguration`: one pipeline, one Dataflow job, which Airflow
follows, retries and can cancel. The operator runs `runners/dataflow/main.py`
(the flex-template entry point, which also runs outside a template) with
`--command=run`; each day writes to its own folder `gs://BUCKET/toolrm/runs/YYYYMMDD/`.

`toolrm_refresh`: the incremental `toolrm refresh` (only new or changed
files, then publish a new dataset version). It decides what to process,
waits for a Dataflow job per batch of files and then publishes, and the Beam
operator follows exactly one job (it stops watching the process once the
first job id is logged), so refresh runs as a plain command in a BashOperator.

Needs on the Airflow workers: apache-airflow-providers-apache-beam and
apache-airflow-providers-google; a toolrm checkout at TOOLRM_HOME (for
`runners/dataflow/main.py` and the `setup.py` that workers install from),
installed into the interpreter PYTHON with `PYTHON -m pip install TOOLRM_HOME`
(the toolrm-beam package with its bundled model and samples, and the pinned
apache-beam[gcp]==2.77.0, pyarrow, ...); Google credentials in the
`google_cloud_default` connection. Settings come from the environment so the
file needs no editing per deployment.

Import guard: this module imports Airflow at the top level, so it is importable
only where Airflow is installed. The project's tests compile it and import it
only when apache-airflow is installed (tests/test_runners.py).
"""
from __future__ import annotations

import datetime
import os

from airflow.providers.apache.beam.operators.beam import BeamRunPythonPipelineOperator
from airflow.providers.google.cloud.operators.dataflow import CheckJobRunning, DataflowConfiguration

try:  # Airflow 3
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.operators.bash import BashOperator

PROJECT = os.environ.get("TOOLRM_PROJECT", "my-project")
REGION = os.environ.get("TOOLRM_REGION", "us-central1")
BUCKET = os.environ.get("TOOLRM_BUCKET", "my-bucket")
TOOLRM_HOME = os.environ.get("TOOLRM_HOME", "/opt/toolrm")
PYTHON = os.environ.get("TOOLRM_PYTHON", "python3")
# Empty: score with the bundled CPU model. Set both for ToolRM-style scoring on L4 GPUs.
REWARD_MODEL = os.environ.get("TOOLRM_REWARD_MODEL", "")  # gs://.../a sequence-classification checkpoint
WORKER_IMAGE = os.environ.get("TOOLRM_WORKER_IMAGE", "")  # runners/dataflow/worker.Dockerfile
SOURCES = {  # corpus format -> glob
    "bfcl": f"gs://{BUCKET}/corpora/bfcl/*.json",
    "acebench": f"gs://{BUCKET}/corpora/acebench_en/*.json",
}

ENTRY_POINT = os.path.join(TOOLRM_HOME, "runners", "dataflow", "main.py")
RUN_DIR = f"gs://{BUCKET}/toolrm/runs/{{{{ ds_nodash }}}}"  # templated by Airflow: one folder per day
COMMON_OPTIONS = {
    "temp_location": f"gs://{BUCKET}/tmp",
    "setup_file": os.path.join(TOOLRM_HOME, "setup.py"),
    "max_num_workers": 20,
}
DEFAULT_ARGS = {"retries": 1, "retry_delay": datetime.timedelta(minutes=20)}
START = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def _scoring_options() -> dict:
    if not REWARD_MODEL:
        return {"scorer": "lite"}
    return {"scorer": "transformers", "model": REWARD_MODEL, "device": "cuda", "gpu_type": "nvidia-l4",
            "gpu_count": 1, "sdk_container_image": WORKER_IMAGE}


def _stage(task_id: str, options: dict) -> BeamRunPythonPipelineOperator:
    return BeamRunPythonPipelineOperator(
        task_id=task_id,
        runner="DataflowRunner",  # the operator passes --runner=DataflowRunner; main.py maps it to the preset
        py_file=ENTRY_POINT,
        py_interpreter=PYTHON,
        pipeline_options={**COMMON_OPTIONS, **options},  # lists become repeated flags (--input=a --input=b)
        dataflow_config=DataflowConfiguration(
            job_name=f"toolrm-{task_id.replace('_', '-')}",
            project_id=PROJECT,
            location=REGION,
            wait_until_finished=True,
            # A job of the same name still running (yesterday's, slow): wait for it instead of doubling up.
            check_if_running=CheckJobRunning.WaitForRun,
        ),
        execution_timeout=datetime.timedelta(hours=8),
    )


with DAG(
    dag_id="toolrm_run_dataflow",
    description="toolrm run (ingest -> synthesize -> score) as one Dataflow job, one folder per day",
    schedule="17 3 * * *",
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["toolrm", "dataflow"],
):
    # Lists become repeated flags (--source=a --source=b), paired with the inputs in order.
    _stage("run", {"command": "run", "source": list(SOURCES), "input": list(SOURCES.values()),
                   "output": RUN_DIR, "generators": "rules", **_scoring_options()})


def _refresh_command() -> str:
    args = ["refresh", "--dataset", f"gs://{BUCKET}/toolrm/dataset"]
    for source, pattern in SOURCES.items():
        args += ["--source", source, "--input", f"'{pattern}'"]
    args += ["--runner", "dataflow", "--project", PROJECT, "--region", REGION,
             "--temp_location", COMMON_OPTIONS["temp_location"], "--setup_file", COMMON_OPTIONS["setup_file"]]
    for key, value in _scoring_options().items():
        args += [f"--{key}", str(value)]
    # The installed package, which carries the bundled model and samples.
    return f"cd {TOOLRM_HOME} && {PYTHON} -m toolrm_beam.runners.cli " + " ".join(args)


with DAG(
    dag_id="toolrm_refresh",
    description="incremental toolrm refresh of a dataset; stages run on Dataflow",
    schedule="47 3 * * *",
    start_date=START,
    catchup=False,
    max_active_runs=1,  # with refresh's conditional publish: never two at once
    default_args=DEFAULT_ARGS,  # a retry reuses the runs that completed
    tags=["toolrm", "dataflow"],
):
    BashOperator(task_id="refresh", bash_command=_refresh_command(), execution_timeout=datetime.timedelta(hours=12))
