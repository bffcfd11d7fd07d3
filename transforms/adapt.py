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
    def __init__(self, source: str, options: dict[str, Any]):
        self._source = source
        self._options = options

    def setup(self):
        self._adapter = get_adapter(self._source).with_options(**self._options)
        self._contexts: collections.OrderedDict[str, tuple[Any, str | None]] = collections.OrderedDict()

    def _context(self, path: str) -> tuple[Any, str | None]:
        key = self._adapter.context_key(path)  # data files sharing side data (a catalog) share one load
        if key in self._contexts:
            self._contexts.move_to_end(key)
            return self._contexts[key]
        try:
            entry = (self._adapter.load_context(path, fileio.open_read), None)
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
        try:
            adapted = self._adapter.adapt(row, context, self._adapter.split_of(path))
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
            yield beam.pvalue.TaggedOutput(VERDICTS, verdict)


class AdaptRows(beam.PTransform):
    """`(path, row_number, row)` -> `(row_key, example)`, candidates, upstream verdicts and dead letters."""

    def __init__(self, source: str, options: dict[str, Any] | None = None):
        super().__init__()
        self._options = dict(options or {})
        get_adapter(source).with_options(**self._options)  # fail at construction on an unknown source or option
        self._source = source

    def expand(self, rows):
        results = rows | "Adapt" >> beam.ParDo(_AdaptRows(self._source, self._options)).with_outputs(
            CANDIDATES, VERDICTS, DEAD_LETTER, main=EXAMPLES)
        return {EXAMPLES: results[EXAMPLES], CANDIDATES: results[CANDIDATES], VERDICTS: results[VERDICTS],
                DEAD_LETTER: results[DEAD_LETTER]}
