"""Incorrect function name: a plausible sibling instead of the right tool.

FC-RewardBench's second most common error (27%). With a catalog, the wrong
tool is the most similar other tool (name, description and parameters), and
the arguments carry over where the sibling has a parameter of the same name
or a free slot of the same type, so the call looks well-formed. With a
single tool, a model invents a near-miss: a verb synonym (`get_weather` ->
`fetch_weather`), the namespace dropped, or the other naming style.
"""
from __future__ import annotations

import random
import re
from typing import Any, Iterator

from toolrm_beam.transforms.rules import spec
from toolrm_beam.transforms.rules.context import ExampleContext
from toolrm_beam.transforms.rules.fill import NOTHING, guess_value
from toolrm_beam.transforms.rules.tokens import identifier_words, jaccard

MAX_SIBLINGS = 2
# A catalog tool sharing no word with the right one (a soy-milk tool for a
# news request) is less plausible than a near-miss name, so it comes last.
MIN_SIBLING_SCORE = 1e-9

_VERB_SYNONYMS = {
    "get": ["fetch", "retrieve"], "fetch": ["get"], "retrieve": ["get", "fetch"], "find": ["search"],
    "search": ["find", "lookup"], "lookup": ["search"], "create": ["add", "make"], "add": ["create"],
    "make": ["create"], "update": ["set", "modify"], "set": ["update"], "modify": ["update"],
    "delete": ["remove"], "remove": ["delete"], "calculate": ["compute", "calc"],
    "compute": ["calculate"], "calc": ["calculate"], "check": ["verify", "get"], "verify": ["check"],
    "list": ["get"], "send": ["post"], "post": ["send"], "book": ["reserve"], "reserve": ["book"],
    "analyze": ["evaluate", "assess"], "evaluate": ["analyze"], "assess": ["analyze"],
    "generate": ["create"], "track": ["monitor"], "monitor": ["track"], "convert": ["transform"],
    "schedule": ["plan"], "plan": ["schedule"], "optimize": ["improve"], "manage": ["handle"],
    "recommend": ["suggest"], "suggest": ["recommend"], "predict": ["forecast"], "forecast": ["predict"],
    "query": ["search"], "play": ["start"], "start": ["begin"], "stop": ["end"], "end": ["stop", "finish"], "cancel": ["delete"], "change": ["update", "modify"],
    "perform": ["run"], "execute": ["run"], "run": ["execute"], "show": ["get", "display"],
    "display": ["show"], "initialize": ["init", "start"], "adjust": ["set"], "order": ["place_order"],
}
_SEPARATORS = re.compile(r"[._]")


def invented_names(name: str, taken: set[str]) -> list[str]:
    """Near-miss names a model writes for `name` (none of them in `taken`)."""
    options = []
    namespace, _, leaf = name.rpartition(".")
    if not namespace:
        # "StockInsightProvider_getTechStockInsights": a class prefix joined by "_".
        head, sep, tail = name.partition("_")
        if sep and head[:1].isupper() and tail[:1].islower() and re.search(r"[A-Z]", tail):
            namespace, leaf = head, tail
    swapped = _swap_verb(leaf)
    if swapped:
        options.append(f"{namespace}.{swapped}" if namespace and "." in name else
                       f"{namespace}_{swapped}" if namespace else swapped)
    if namespace:
        options.append(leaf)
    styled = _other_style(leaf)
    if styled:
        options.append(f"{namespace}.{styled}" if namespace and "." in name else styled)
    words = identifier_words(leaf)
    if len(words) >= 3 and _round_trips(leaf, words):
        options.append(_join_like(leaf, words[:1] + words[2:]))  # drop a middle word
    if not options:
        # Nothing word-level applies: a near-miss of the whole name.
        options.append(leaf[:-1] if leaf.endswith("s") else leaf + "s")
        options.append((leaf[:1].swapcase() + leaf[1:]) if leaf[:1].isalpha() else leaf)
        options = [f"{namespace}.{o}" if namespace and "." in name else o for o in options]
    blocked = taken | {name, name.replace(".", "_")}
    return [o for o in dict.fromkeys(options) if o and o not in blocked and o.replace(".", "_") not in blocked]


def _swap_verb(name: str) -> str | None:
    words = identifier_words(name)
    if not words:
        return None
    verb = words[0]
    if verb in _VERB_SYNONYMS and _round_trips(name, words):
        return _join_like(name, [_VERB_SYNONYMS[verb][0]] + words[1:])
    return None


def _round_trips(name: str, words: list[str]) -> bool:
    """Whether `name` is plain snake/camel/Pascal case, so re-joining its words is safe
    (`updateiOSAppVersion` is not: its words would come back as `updatei_os_...`)."""
    return _join_like(name, words) == name


def _join_like(name: str, words: list[str]) -> str:
    """Join words in the style of `name` (snake_case, camelCase or PascalCase)."""
    if "_" in name or name.islower():
        return "_".join(words)
    first = words[0].capitalize() if name[:1].isupper() else words[0]
    return first + "".join(w.capitalize() for w in words[1:])


def _other_style(name: str) -> str | None:
    words = identifier_words(name)
    if len(words) < 2 or not _round_trips(name, words):
        return None
    if "_" in name:
        return words[0] + "".join(w.capitalize() for w in words[1:])
    return "_".join(words)


def map_arguments(ctx: ExampleContext, arguments: dict, target: str, rng: random.Random) -> dict:
    """Carry `arguments` over to tool `target`, as a model would: same-named
    parameters kept, required ones filled from a fitting leftover or a guess."""
    target_properties = ctx.properties(target)
    out: dict[str, Any] = {}
    unused = dict(arguments)
    for param in list(unused):
        if param in target_properties and spec.fits(unused[param], target_properties[param]):
            out[param] = unused.pop(param)
    for param in ctx.required(target):
        if param in out:
            continue
        schema = target_properties.get(param)
        words = set(identifier_words(param))
        # The unused argument of a fitting type with the most similar name.
        fitting = sorted(((jaccard(words, set(identifier_words(p))), p) for p, v in unused.items()
                          if spec.fits(v, schema)), reverse=True)
        if fitting:
            out[param] = unused.pop(fitting[0][1])
            continue
        value = guess_value(param, schema, ctx.conversation, rng)
        if value is not NOTHING:
            out[param] = value
    return out


def function_name_proposals(ctx: ExampleContext, rng: random.Random) -> Iterator[list[dict]]:
    calls = ctx.calls
    positions = list(range(len(calls)))
    rng.shuffle(positions)
    taken = set(ctx.tools_by_name)
    invented: list[list[dict]] = []
    distant: list[list[dict]] = []
    for position in positions:
        call = calls[position]
        for score, sibling in ctx.siblings(call["name"])[:MAX_SIBLINGS]:
            arguments = map_arguments(ctx, call["arguments"], sibling, rng)
            output = calls[:position] + [{"name": sibling, "arguments": arguments}] + calls[position + 1:]
            if score >= MIN_SIBLING_SCORE:
                yield output
            else:
                distant.append(output)
        for name in invented_names(call["name"], taken)[:2]:
            invented.append(calls[:position] + [{"name": name, "arguments": call["arguments"]}] + calls[position + 1:])
    # A similar catalog tool is the likeliest slip, then a near-miss name,
    # then an unrelated tool of the catalog.
    yield from invented
    yield from distant
