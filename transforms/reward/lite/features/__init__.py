"""Reference-free features of (tools, conversation, candidate output).

The bundled reward model judges a candidate tool call from what a judge can
see at scoring time: the tool catalog, the conversation and the output. No
reference is read here. Each feature targets one way calls go wrong
(docs/tool-call-correctness.md):

- parsing: does the output decode; is undecodable text call-like or prose?
- call count: number of calls, duplicates, how many entities/conjunctions the
  user's text lists, how much of what the user mentioned the calls use;
- function name: unknown names and near-misses of catalog names; how well the
  chosen tool matches the request (similarity and rank among the catalog);
- required/unexpected/optional parameters: schema bookkeeping, plus optional
  parameters whose name or enum values the user mentioned but the call left
  out, and optional ones sent with values the user never gave;
- value types: JSON-Schema type, enum and bounds per argument;
- values: is each value grounded in the conversation (exact token span,
  normalized substring, word overlap, the number/date the user wrote), is it
  a truncated piece of a longer entity, does it contradict an enum member the
  user named, does it match the shape of the examples the parameter's
  description gives, and is each value nearest to the words of its own
  parameter in the text (swapped values are not);
- no-call answers: prose versus calls when no tool fits the request, and
  whether a text answer asks back, names parameters or flags a value.

Pure Python over decoded JSON; everything about an example (text, numbers,
dates, entities, per-tool similarity) is computed once per example and cached,
so scoring many candidates of one example is cheap.

Modules, by concern:

- `text`: normalisation, tokens, stems, numbers, dates, value shapes;
- `schema`: JSON-Schema types and per-tool/per-parameter facts (`tool_info`);
- `value_classes`: the class of a value (date, email, place, ...) and the
  class a parameter's name asks for;
- `context`: per-example context (`ExampleInfo`) and its cache (`ContextCache`);
- `layout`: column names and order, version and signature;
- `stats`: how value observations are counted and replayed (`ValueStats`);
- `grounding`: is a string value grounded in the conversation (any parameter);
- `values`: argument values against their parameters (type, enum, bounds);
- `calls`: per-call records (names, parameters, alignment);
- `multi_call`: what several calls of one output vary and add;
- `prose`: features of text answers;
- `candidate`: a candidate's vector, and the batch API (`featurize`).

This package re-exports their public names: `features.featurize`, `features.ExampleInfo`, ...
"""
from toolrm_beam.transforms.reward.lite.features.candidate import candidate_features, featurize
from toolrm_beam.transforms.reward.lite.features.context import ContextCache, ExampleInfo
from toolrm_beam.transforms.reward.lite.features.layout import COLUMNS, FEATURE_INDEX, FEATURE_NAMES, FEATURE_VERSION, \
    N_FEATURES, PER_CALL, feature_signature
from toolrm_beam.transforms.reward.lite.features.schema import ParamInfo, ToolInfo, schema_types, tool_info
from toolrm_beam.transforms.reward.lite.features.schema import _TOOL_CACHE  # noqa: F401  (the benchmark clears it)
from toolrm_beam.transforms.reward.lite.features.text import STOPWORDS, content_stems, find_dates, find_emails_urls, \
    find_month_days, find_numbers, identifier_words, parse_date, standardize, stem
from toolrm_beam.transforms.reward.lite.features.value_classes import cached_value_class, param_class, value_class

globals().update(COLUMNS)  # I_<name>: the column of each feature

__all__ = [
    "FEATURE_INDEX", "FEATURE_NAMES", "FEATURE_VERSION", "N_FEATURES", "PER_CALL", "STOPWORDS", "ContextCache",
    "ExampleInfo", "ParamInfo", "ToolInfo", "cached_value_class", "candidate_features", "content_stems",
    "feature_signature", "featurize", "find_dates", "find_emails_urls", "find_month_days", "find_numbers",
    "identifier_words", "param_class", "parse_date", "schema_types", "standardize", "stem", "tool_info",
    "value_class", *COLUMNS,
]
