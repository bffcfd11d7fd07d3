"""A corpus file's examples (and corpus candidates) without a pipeline: for training, benchmarks and evaluation files.

The same read -> adapt (-> validate) path ingest takes, in plain Python. Rows
ingest would dead-letter (unreadable, not adaptable, invalid) are skipped:
they are not part of a workload or an evaluation set.
"""
from __future__ import annotations

from typing import Iterator

from toolrm_beam.schemas.adapters import Adapted, get_adapter
from toolrm_beam.schemas.validation import validate_example
from toolrm_beam.transforms.fileio import open_read
from toolrm_beam.transforms.read_rows import iter_file_rows


def file_adapted(source: str, path: str, *, validate: bool = False) -> Iterator[Adapted]:
    """What each row of one corpus file became (examples, candidates, verdicts); nothing for a side file.

    With `validate`, a row whose examples fail the record's schema or catalog
    is skipped (ingest dead-letters it).
    """
    adapter = get_adapter(source)
    if not adapter.is_data_file(path):
        return
    context = adapter.load_context(path, open_read)
    split = adapter.split_of(path)
    for _, row, error in iter_file_rows(path):
        if error is not None:
            continue
        try:
            adapted = adapter.adapt(row, context, split)
            if validate:
                for example in adapted.examples:
                    validate_example(example)
        except ValueError:
            continue
        yield adapted


def file_examples(source: str, path: str, *, validate: bool = False) -> Iterator[dict]:
    """The examples of one corpus file; none for a side file (answers, catalogs).

    With `validate`, each example is checked against the record's schema and
    catalog as it is yielded; an invalid one is skipped (ingest dead-letters it).
    """
    for adapted in file_adapted(source, path):
        for example in adapted.examples:
            if validate:
                try:
                    validate_example(example)
                except ValueError:
                    continue
            yield example
