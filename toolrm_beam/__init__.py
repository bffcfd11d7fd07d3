"""toolrm_beam: reward-model training data for tool-calling LLMs, on Apache Beam.

The repository keeps its stage folders at the top level (`schemas/`,
`transforms/`, `beam_pipelines/`, `runners/`); `setup.py` installs them as
subpackages of this one import package, so an installed copy never claims
generic top-level names that other distributions own.
"""
__version__ = "0.1.0"
