"""Parameter value errors: a wrong value that stays schema-valid and plausible.

FC-RewardBench's most common error (43%) is a call that is right in every
way but one value: the other city, the number across the boundary the user
stated, the default instead of what was asked, a date in another format.
Alternatives come, in order of plausibility, from the conversation, the
schema (other enum members, the default) and the written variants of
`variants.py`. Every alternative keeps the parameter's JSON type and stays
within its enum and bounds.
"""
from __future__ import annotations

import random
import re
from typing import Any, Iterator

from toolrm_beam.schemas.checker import standardize_string
from toolrm_beam.transforms.rules import spec, variants
from toolrm_beam.transforms.rules.context import ExampleContext
from toolrm_beam.transforms.rules.literal import literal_alternatives
from toolrm_beam.transforms.rules.tokens import identifier_words

MAX_PER_PARAM = 4
_MAX_DEPTH = 2

# Parameters that come in pairs: swapping their values is a classic slip.
_PAIRED = [("start", "end"), ("origin", "destination"), ("from", "to"), ("source", "target"),
           ("min", "max"), ("lat", "lon"), ("latitude", "longitude"), ("width", "height"),
           ("first", "last"), ("departure", "arrival"), ("sender", "recipient"), ("begin", "end"),
           ("in", "out")]
_FILLER = {"a", "an", "the", "of", "in", "on", "at", "for", "to", "and", "or", "with", "is", "are",
           "my", "your", "me", "it", "as", "by", "from", "that", "this", "be", "was", "i", "we"}
_DIGIT = re.compile(r"\d")
_IDENTIFIER = re.compile(r"^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*$")
_CAMEL_OR_DOTTED = re.compile(r"[a-z][A-Z]|[a-z]_[a-z]|[A-Za-z]\.[A-Za-z]")   # userProfile, user_id, TimeUnit.SECONDS


def _unique(values: list, original: Any) -> list:
    """Drop repeats and anything equal to the original under the checker's normalization."""
    seen = {_key(original)}
    out = []
    for value in values:
        key = _key(value)
        if key in seen:
            continue
        seen.add(key)
        out.append(value)
    return out


def _key(value: Any) -> Any:
    if isinstance(value, str):
        return ("s", standardize_string(value))
    if isinstance(value, (list, tuple)):
        return ("l", tuple(_key(v) for v in value))
    if isinstance(value, dict):
        return ("d", tuple(sorted((str(k), _key(v)) for k, v in value.items())))
    return (type(value).__name__, value)


class ValueAlternatives:
    """Plausible wrong values for the parameters of one example."""

    def __init__(self, ctx: ExampleContext, rng: random.Random):
        self.ctx = ctx
        self.conversation = ctx.conversation
        self.rng = rng

    def for_value(self, value: Any, schema: Any, param: str, peers: list = (), depth: int = 0,
                  siblings: frozenset = frozenset()) -> list:
        """Alternatives to `value`, the most plausible first.

        `peers` are values of the same parameter in the other calls of the
        example (the likeliest mix-up); `siblings` are the normalized values
        of the call's other arguments, which a swap covers and which are not
        offered here again.
        """
        schema = schema if isinstance(schema, dict) else {}
        # first what the user wrote where the tool wanted it converted (see literal.py)
        literal = literal_alternatives(value, self.conversation) if depth == 0 or not isinstance(value, str) else []
        if isinstance(value, bool):
            options = [not value]
        elif spec.enum_of(schema) is not None and not isinstance(value, (list, dict)):
            options = self._enum(value, spec.enum_of(schema))
        elif isinstance(value, int):
            options = self._integer(value)
        elif isinstance(value, float):
            options = self._float(value, param)
        elif isinstance(value, str):
            options = self._string(value, schema, param, siblings)
        elif isinstance(value, (list, tuple)):
            options = self._list(list(value), schema, param, depth) if depth <= _MAX_DEPTH else []
        elif isinstance(value, dict):
            options = self._dict(value, schema, depth) if depth <= _MAX_DEPTH else []
        else:
            options = []
        options = literal + [peer for peer in peers if type(peer) is type(value)] + options
        return [o for o in _unique(options, value) if spec.fits(o, schema)][:MAX_PER_PARAM * 2]

    # --- scalars -----------------------------------------------------------

    def _enum(self, value: Any, enum: list) -> list:
        """Other members, the neighbours in the declared order first (`large` -> `medium`)."""
        members = [m for m in enum if type(m) is type(value) and m != value]
        if value in enum:
            at = enum.index(value)
            members.sort(key=lambda m: abs(enum.index(m) - at))
        return members

    def _integer(self, value: int) -> list:
        return variants.integer_alternatives(value, self.conversation.numbers)

    def _float(self, value: float, param: str) -> list:
        return variants.float_alternatives(value, set(identifier_words(param)), self.conversation.numbers)

    def _string(self, value: str, schema: dict, param: str, siblings: frozenset) -> list:
        special = variants.dated_or_numeric_alternatives(value, self.conversation)
        if special is not None:
            return special
        options = variants.written_variants(value)
        if _IDENTIFIER.match(value) and _CAMEL_OR_DOTTED.search(value):
            # a variable the user named (`userProfile`, `TimeUnit.MINUTES`): models write out
            # what it might hold, or quote it, instead of passing the name
            options += [f'"{value}"', variants.inlined_literal(value, self.conversation)]
        entities = [e for e in self._entities(value) if standardize_string(e) not in siblings]
        default = schema.get("default")
        if isinstance(default, str) and default:
            options.append(default)
        options += entities[:2]
        if "," in value:
            options.append(value.split(",")[0].strip())  # "Beijing, China" -> "Beijing"
        options += self._span_edits(value)
        if _DIGIT.search(value):
            options.append(variants.bump_last_digit(value))
        options += entities[2:4]
        if value.strip() and value.strip()[0] not in "'\"":
            options.append(f"'{value}'")   # the value written as a string literal, quotes and all
        if " " not in value and value.isalpha() and value.islower() and len(value) > 3:
            if value.endswith("s") and not value.endswith("ss"):
                options.append(value[:-1])  # "nurses" -> "nurse"
            options += [w for w in self.conversation.words if w not in value and value not in w
                        and standardize_string(w) not in siblings][:1]
        return options

    def _entities(self, value: str) -> list:
        """Other things the user mentioned, those shaped like `value` first."""
        norm = standardize_string(value)
        has_digit = bool(_DIGIT.search(value))
        capitalized = value[:1].isupper()
        scored = []
        for index, entity in enumerate(self.conversation.entities):
            entity_norm = standardize_string(entity)
            if not entity_norm or entity_norm == norm:
                continue
            shape = (bool(_DIGIT.search(entity)) == has_digit) + (entity[:1].isupper() == capitalized)
            scored.append((-shape, index, entity))
        return [entity for _, _, entity in sorted(scored)]

    def _span_edits(self, value: str) -> list:
        """The user's words around `value`, taken in or left out ("specific country")."""
        text = self.conversation.user_text
        at = text.lower().find(value.lower())
        if at < 0 or not value.strip():
            return []
        options = []
        before = re.search(r"([A-Za-z][\w'-]*)\s+$", text[:at])
        after = re.match(r"\s+([A-Za-z][\w'-]*)", text[at + len(value):])
        if after and after[1].lower() not in _FILLER:
            options.append(f"{value} {after[1]}")
        if before and before[1][:1].isupper() and before[1].lower() not in _FILLER:
            options.append(f"{before[1]} {value}")  # "York" -> "New York"
        words = value.split()
        if len(words) >= 2:
            options.append(" ".join(words[:-1]))
        return options

    # --- containers --------------------------------------------------------

    def _list(self, value: list, schema: dict, param: str, depth: int) -> list:
        items = spec.items_of(schema)
        options: list = []
        if value and all(isinstance(item, dict) for item in value):
            for index in self.rng.sample(range(len(value)), len(value)):
                for alternative in self._dict(value[index], items, depth + 1)[:2]:
                    options.append(value[:index] + [alternative] + value[index + 1:])
            if len(value) > 1:
                options.append(value[:-1])
            return options
        if len(value) > 1 and all(isinstance(v, list) for v in value):
            options.append([item for row in value for item in row])   # [[1, 2], [3, 4]] -> [1, 2, 3, 4]
        numbers = [v for v in value if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if numbers and len(numbers) == len(value):
            rescaled = [literal_alternatives(v, self.conversation)[:1] for v in value]
            if all(rescaled):
                options.append([r[0] for r in rescaled])              # [0.01, 0.02] -> [1, 2] as written
        if len(value) > 1:
            options += [value[:-1], value[1:]]
        scalars = [v for v in value if isinstance(v, (str, int, float)) and not isinstance(v, bool)]
        if scalars:
            index = value.index(scalars[0]) if len(value) == 1 else self.rng.randrange(len(value))
            for alternative in self.for_value(value[index], items, param, (), depth + 1)[:2]:
                if _key(alternative) not in {_key(v) for v in value}:
                    options.append(value[:index] + [alternative] + value[index + 1:])
        extra = [e for e in self.conversation.entities
                 if all(isinstance(v, str) for v in value) and _key(e) not in {_key(v) for v in value}
                 and spec.fits(e, items)]
        if extra:
            options.append(value + extra[:1])
        if len(value) > 1 and _key(value[0]) != _key(value[-1]):
            options.append(list(reversed(value)))  # order counts for the checker
        return options

    def _dict(self, value: dict, schema: dict, depth: int) -> list:
        properties = spec.properties_of(schema)
        options = []
        keys = list(value)
        self.rng.shuffle(keys)
        for key in keys:
            for alternative in self.for_value(value[key], properties.get(key), key, (), depth + 1)[:2]:
                options.append({**value, key: alternative})
        optional = [k for k in keys if k not in spec.required_of(schema)]
        if optional and len(value) > 1:
            options.append({k: v for k, v in value.items() if k != optional[0]})
        return options


def _paired(a: str, b: str) -> bool:
    wa, wb = set(identifier_words(a)), set(identifier_words(b))
    return any((x in wa and y in wb) or (y in wa and x in wb) for x, y in _PAIRED)


def _accepted(value: Any, acceptable: list | None) -> bool:
    """Cheap pre-filter for a scalar the reference accepts (the checker has the last word)."""
    if acceptable is None or isinstance(value, (list, dict, tuple)):
        return False
    if isinstance(value, str):
        norm = standardize_string(value)
        return any(isinstance(a, str) and standardize_string(a) == norm for a in acceptable)
    return any(type(a) is type(value) and a == value for a in acceptable)


def _with_argument(calls: list[dict], position: int, param: str, value: Any) -> list[dict]:
    call = calls[position]
    changed = {"name": call["name"], "arguments": {**call["arguments"], param: value}}
    return calls[:position] + [changed] + calls[position + 1:]


def _swaps(ctx: ExampleContext, position: int) -> list[list[dict]]:
    """Two same-typed arguments of one call traded (origin <-> destination)."""
    call = ctx.calls[position]
    properties = ctx.properties(call["name"])
    scalars = [(p, v) for p, v in call["arguments"].items()
               if isinstance(v, (str, int, float)) and not isinstance(v, bool)]
    pairs = []
    for i, (p, v) in enumerate(scalars):
        for q, w in scalars[i + 1:]:
            if type(v) is not type(w) or _key(v) == _key(w):
                continue
            if not (spec.fits(w, properties.get(p)) and spec.fits(v, properties.get(q))):
                continue
            paired = _paired(p, q)
            if paired or variants.shape(v) == variants.shape(w):
                pairs.append((not paired, p, q))
    pairs.sort(key=lambda item: item[0])
    out = []
    for _, p, q in pairs[:2]:
        arguments = {**call["arguments"], p: call["arguments"][q], q: call["arguments"][p]}
        out.append(ctx.calls[:position] + [{"name": call["name"], "arguments": arguments}] + ctx.calls[position + 1:])
    return out


def value_error_proposals(ctx: ExampleContext, rng: random.Random) -> Iterator[list[dict]]:
    """Outputs with one wrong value each, one parameter after another (round robin).

    Alternatives for a parameter are worked out only when its turn first
    comes: most examples need two or three value errors, not all of them.
    """
    alternatives = ValueAlternatives(ctx, rng)
    calls = ctx.calls
    slots: list[tuple[int, str | None]] = []   # (call position, parameter); None = a swap
    for position, call in enumerate(calls):
        slots.extend((position, param) for param in call["arguments"])
        if len(call["arguments"]) >= 2:
            slots.append((position, None))
    rng.shuffle(slots)
    cache: dict[tuple[int, str | None], list[list[dict]]] = {}

    def outputs(slot: tuple[int, str | None]) -> list[list[dict]]:
        if slot not in cache:
            position, param = slot
            cache[slot] = _swaps(ctx, position) if param is None else \
                _param_outputs(ctx, alternatives, position, param)
        return cache[slot]

    for round_ in range(MAX_PER_PARAM):
        for slot in slots:
            options = outputs(slot)
            if round_ < len(options):
                yield options[round_]


def _param_outputs(ctx: ExampleContext, alternatives: ValueAlternatives, position: int,
                   param: str) -> list[list[dict]]:
    calls = ctx.calls
    call = calls[position]
    value = call["arguments"][param]
    peers = [other["arguments"][param] for other in calls
             if other is not call and other["name"] == call["name"] and param in other["arguments"]]
    siblings = frozenset(standardize_string(v) for p, v in call["arguments"].items()
                         if p != param and isinstance(v, str))
    acceptable = ctx.acceptable(position).get(param)
    options = [o for o in alternatives.for_value(value, ctx.properties(call["name"]).get(param), param, peers,
                                                 siblings=siblings)
               if not _accepted(o, acceptable)][:MAX_PER_PARAM]
    return [_with_argument(calls, position, param, o) for o in options]
