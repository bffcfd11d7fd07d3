"""toolrm: reward-model training data for tool-calling LLMs, on Apache Beam.

Workers on Dataflow install the package from this file (`--setup_file`).
"""
from setuptools import find_packages, setup

# Pinned so that a fresh clone, CI and Dataflow workers resolve the same stack.
INSTALL_REQUIRES = [
    "apache-beam[gcp]==2.77.0",
    "pyarrow==25.0.1",
    "jsonschema==4.26.0",
    "regress==2026.9.1",  # ECMA-262 regexes, as JSON Schema's `pattern` defines them
    "fsspec==2026.9.0",
    "gcsfs==2026.10.1",
    "numpy==2.4.6",  # the bundled reward model scores with numpy alone
    "safetensors==0.8.0",  # the bundled model's weights: a non-pickle format
    "matplotlib==3.11.2",  # report.html plots
]

EXTRAS = {
    # Open-weight LLM generation and reward-model scoring. torch is pinned to
    # the CPU build the Makefile installs first; GPU workers bring their own.
    "llm": ["torch==2.13.0", "transformers[serving]==5.24.0", "httpx==0.28.1"],
    # TRL and datasets prove the pairs shards train a reward model as they are;
    # pytest-xdist runs the test files side by side (`make test`).
    "test": ["pytest==9.2.0", "pytest-xdist==3.8.0", "hypothesis==6.170.17", "trl==1.16.0", "datasets==5.2.0"],
}

# The distribution and its one import package; `toolrm` (the command) stays.
DISTRIBUTION = "toolrm-beam"
PACKAGE = "toolrm_beam"
# The stage folders sit at the repository's top level and install under PACKAGE.
STAGE_FOLDERS = ("schemas", "transforms", "beam_pipelines", "runners")
# So do the bundled model and the sample corpora, as package data: an installed
# copy (a wheel, or the sdist Dataflow workers install) carries them.
DATA_FOLDERS = ("models", "data")
PACKAGE_DATA = {
    f"{PACKAGE}.models": ["toolrm-lite/*"],
    f"{PACKAGE}.data": ["samples/*", "samples/**/*"],
}
# A maintainer's script (it rebuilds the samples from the full corpora), not part of the package.
EXCLUDE_PACKAGE_DATA = {f"{PACKAGE}.data": ["samples/build_samples.py"]}
PACKAGE_DIR = {PACKAGE: PACKAGE, **{f"{PACKAGE}.{folder}": folder for folder in STAGE_FOLDERS + DATA_FOLDERS}}
PACKAGES = [PACKAGE] + [f"{PACKAGE}.{folder}" for folder in DATA_FOLDERS] + [
    f"{PACKAGE}.{name}" for name in find_packages(include=[
        pattern for folder in STAGE_FOLDERS for pattern in (folder, f"{folder}.*")])]

setup(
    name=DISTRIBUTION,
    version="0.1.0",
    description="Beam pipeline that makes reward-model training data for tool-calling LLMs",
    long_description=open("README.md", encoding="utf-8").read() if __import__("os").path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=PACKAGES,
    package_dir=PACKAGE_DIR,
    package_data=PACKAGE_DATA,
    exclude_package_data=EXCLUDE_PACKAGE_DATA,
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["toolrm = toolrm_beam.runners.cli:console_main"]},
)
