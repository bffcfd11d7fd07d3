"""What a pipeline's graph holds (tests' helper): the kinds of leaf transform under a composite."""
from __future__ import annotations

import apache_beam as beam


def leaf_kinds(pipeline: beam.Pipeline, prefix: str) -> list[str]:
    """The class name of every leaf transform whose full label starts with `prefix` (e.g. "Write/")."""
    kinds: list[str] = []

    class Leaves(beam.pipeline.PipelineVisitor):
        def visit_transform(self, node):
            if node.full_label.startswith(prefix):
                kinds.append(type(node.transform).__name__)

    pipeline.visit(Leaves())
    return kinds
