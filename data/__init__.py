"""Data that ship inside the package (installed as `toolrm_beam.data`).

`SAMPLES` is the folder of small sample corpora (`samples/`, attribution in
its README.md) that `toolrm run` reads when no `--source` is given.
"""
from toolrm_beam import package_path

SAMPLES = package_path(__name__, "samples")
