"""toolrm_beam: reward-model training data for tool-calling LLMs, on Apache Beam.

The repository keeps its stage folders at the top level (`schemas/`,
`transforms/`, `beam_pipelines/`, `runners/`); `setup.py` installs them as
subpackages of this one import package, so an installed copy never claims
generic top-level names that other distributions own. `models/` and
`data/` install the same way, as `toolrm_beam.models` (the bundled reward
model) and `toolrm_beam.data` (the sample corpora), so an installed copy
finds them without the checkout.
"""
from __future__ import annotations

import pathlib
from importlib import resources

__version__ = "0.1.0"
DISTRIBUTION = "toolrm-beam"


def package_path(package: str, *parts: str) -> str:
    """The file-system path of data shipped inside `package` (e.g. `toolrm_beam.models`, "toolrm-lite").

    Found through the import system, so it is right for an editable install
    (the checkout's folder) and for a wheel (site-packages) alike.
    """
    resource = resources.files(package).joinpath(*parts)
    if not isinstance(resource, pathlib.Path):  # a zip import: readers need real files
        raise RuntimeError(f"{package} is not installed as files ({resource!r}); install it with pip")
    return str(resource)
