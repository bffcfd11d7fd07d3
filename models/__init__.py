"""Models that ship inside the package (installed as `toolrm_beam.models`).

`LITE_MODEL` is the bundled CPU reward model's directory (`toolrm-lite/`):
beside the sources in a checkout or an editable install, inside
site-packages when installed from a wheel or an sdist.
"""
from toolrm_beam import package_path

LITE_MODEL = package_path(__name__, "toolrm-lite")
