"""Rule-made candidates: the reference as a candidate, realistic negatives, obfuscation.

Pure Python (no Beam): the pipeline's generate stage calls these per example.

- `reference_candidate(example)`: the reference as a correct Candidate record.
- `generate_rule_candidates(example, seed=..., mix=..., max_negatives=...)`:
  negatives, one perturbation family per error type, labelled by the checker,
  chosen to follow an error-type mix (FC-RewardBench's by default).
- `obfuscate(example, candidates, seed=...)`: ToolRM's renaming augmentation.
- `is_schema_valid(tools, output)`: does the output decode to calls that
  validate against the tools' JSON Schemas?
"""
from toolrm_beam.transforms.rules.obfuscate import obfuscate
from toolrm_beam.transforms.rules.reference import reference_candidate
from toolrm_beam.transforms.rules.schema_valid import is_schema_valid
from toolrm_beam.transforms.rules.select import DEFAULT_MIX, generate_rule_candidates

__all__ = ["DEFAULT_MIX", "generate_rule_candidates", "is_schema_valid", "obfuscate", "reference_candidate"]
