"""Adapt raw rows to canonical Examples (and corpus Candidates), then validate.

A row either becomes one or more valid examples or one dead-letter record:
if any example of a row is invalid the whole row is dead-lettered, so the
accounting `rows in = written + duplicate + dead letter` holds per row.
"""
from __future__ import annotations

import collections
from typing import Any

import apache_beam as beam

from toolrm_beam.schemas.adapters import get_adapter
from toolrm_beam.schemas.adapters.base import AdaptError
from toolrm_beam.schemas.validation import ValidationError, validate_example
from toolrm_beam.transforms import fileio
from toolrm_beam.transforms.dead_letter import dead_letter

EXAMPLES = "examples"
CANDIDATES = "candidates"
VERDICTS = "verdicts"
DEAD_LETTER = "dead_letter"

# Side data (answer files, catalogs) kept per worker; files arrive in any order.
_CONTEXT_CACHE_FILES = 16


def row_key(path: str, row_number: int) -> str:
    return f"{path}#{row_number}"


class _AdaptRows(beam.DoFn):
    """Rows of one or several corpora: each file's rows go to its source's adapter (`source_of_file`)."""

    def __init__(self, adapters: dict[str, dict[str, Any]], source_of_file: dict[str, str] | None = None):
        self._adapter_options = adapters
        self._source_of_file = source_of_file

    def setup(self):
        self._adapters = {source: get_adapter(source).with_options(**options)
                          for source, options in self._adapter_options.items()}
        self._only = next(iter(self._adapters.values())) if self._source_of_file is None else None
        self._contexts: collections.OrderedDict[tuple, tuple[Any, str | None]] = collections.OrderedDict()

    def _adapter(self, path: str):
        return self._only if self._only is not None else self._adapters[self._source_of_file[path]]

    def _context(self, path: str) -> tuple[Any, str | None]:
        adapter = self._adapter(path)
        # Data files sharing side data (a catalog) share one load.
        key = (adapter.name, adapter.context_key(path))
        if key in self._contexts:
            self._contexts.move_to_end(key)
            return self._contexts[key]
        try:
            entry = (adapter.load_context(path, fileio.open_read), None)
        except Exception as error:  # missing/broken side file: every row of it dead-letters
            entry = (None, f"{type(error).__name__}: {error}")
        self._contexts[key] = entry
        while len(self._contexts) > _CONTEXT_CACHE_FILES:
            self._contexts.popitem(last=False)
        return entry

    def process(self, element):
        path, number, row = element
        context, context_error = self._context(path)
        if context_error is not None:
            yield beam.pvalue.TaggedOutput(
                DEAD_LETTER, dead_letter(path, number, "adapt", "context_unavailable", context_error, row))
            return
        adapter = self._adapter(path)
        try:
            adapted = adapter.adapt(row, context, adapter.split_of(path))
            if not adapted.examples:
                raise AdaptError("no_examples", "the row holds no turn that a tool call answers")
            for example in adapted.examples:
                validate_example(example)
        except (AdaptError, ValidationError) as error:
            yield beam.pvalue.TaggedOutput(
                DEAD_LETTER, dead_letter(path, number, "adapt", error.reason, error.detail, row))
            return
        except Exception as error:  # an adapter bug must not sink the job; the row stays visible
            yield beam.pvalue.TaggedOutput(
                DEAD_LETTER,
                dead_letter(path, number, "adapt", "adapter_exception", f"{type(error).__name__}: {error}", row))
            return
        key = row_key(path, number)
        for example in adapted.examples:
            yield key, example
        for candidate in adapted.candidates:
            yield beam.pvalue.TaggedOutput(CANDIDATES, candidate)
        for verdict in adapted.verdicts:
            yield beam.pvalue.TaggedOutput(VERDICTS, (adapter.name, verdict))


class AdaptRows(beam.PTransform):
    """`(path, row_number, row)` -> `(row_key, example)`, candidates, `(source, upstream verdict)` and dead letters.

    `adapters` maps each corpus format to its adapter options; with several,
    `source_of_file` says which source each file is, so one step serves every
    corpus of a run.
    """

    def __init__(self, adapters: dict[str, dict[str, Any]], source_of_file: dict[str, str] | None = None):
        super().__init__()
        adapters = {name: dict(settings or {}) for name, settings in adapters.items()}
        if source_of_file is None and len(adapters) != 1:
            raise ValueError("several sources need source_of_file: which source each file is")
        if source_of_file is not None and not set(source_of_file.values()) <= set(adapters):
            raise ValueError(f"files of unknown sources: {sorted(set(source_of_file.values()) - set(adapters))}")
        for name, settings in adapters.items():
            get_adapter(name).with_options(**settings)  # fail at construction on an unknown source or option
        self._adapters = adapters
        self._source_of_file = dict(source_of_file) if source_of_file is not None else None

    def expand(self, rows):
        results = rows | "Adapt" >> beam.ParDo(_AdaptRows(self._adapters, self._source_of_file)).with_outputs(
            CANDIDATES, VERDICTS, DEAD_LETTER, main=EXAMPLES)
        return {EXAMPLES: results[EXAMPLES], CANDIDATES: results[CANDIDATES], VERDICTS: results[VERDICTS],
                DEAD_LETTER: results[DEAD_LETTER]}
