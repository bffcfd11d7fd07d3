"""Per-example context: what the tools and the conversation say, computed once per example.

`ExampleInfo` holds everything that does not depend on the candidate (texts,
tokens, numbers, dates, entities, per-tool similarity to the request) and a
per-example memo (`_cache`) that the candidate features fill, so scoring many
candidates of one example is cheap. `ContextCache` keeps ExampleInfos across
batches, bounded, by example identity and content.
"""
from __future__ import annotations

import functools
import json
import math
import re
from collections import OrderedDict
from typing import Any, Iterable

from toolrm_beam.transforms.reward.lite.features.schema import GENERIC_PARAM_WORDS, ParamInfo, ToolInfo, tool_info
from toolrm_beam.transforms.reward.lite.features.text import STOPWORDS, TOKEN, WORD, find_dates, find_emails_urls, \
    find_month_days, find_numbers, format_number, standardize, stem, token_string, tokens, word_ending_at

# _QUOTED, _ENTITY and _CONJ_TRIGGER start each branch with a character (class), so that the regex
# engine skips to where a match can start: a lookbehind right after that character stands for the
# `\b` or lookbehind that would come before it (same matches, several times faster).
_QUOTED = re.compile(r"\"([^\"\n]{1,100})\"|“([^”\n]{1,100})”|‘([^’\n]{1,100})’"
                     r"|'(?<![A-Za-z]')([^'\n]{1,100})'(?![A-Za-z])")
_QUOTE_CHARS = ("\"", "“", "‘", "'")
_CAPWORD = r"(?:[A-Z][A-Za-z0-9&'-]*(?:\.(?=[A-Za-z0-9]))?[A-Za-z0-9&'-]*|[0-9]*[A-Z][A-Z0-9]+)"
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\n]\s*|[\"“(]\s*)$")
# `\b` + _CAPWORD (its second branch without digits never applies there: the first takes any capital)
_CAPWORD_AT_BOUNDARY = (r"(?:[A-Z](?<!\w.)[A-Za-z0-9&'-]*(?:\.(?=[A-Za-z0-9]))?[A-Za-z0-9&'-]*"
                        r"|[0-9](?<!\w.)[0-9]*[A-Z][A-Z0-9]+)")
_ENTITY = re.compile(rf"{_CAPWORD_AT_BOUNDARY}(?:(?:\s+|\s+(?:of|de|la|the)\s+|,\s+){_CAPWORD})*")
_COUNT_WORDS = {"both": 2, "two": 2, "three": 3, "four": 4, "five": 5, "pair": 2, "couple": 2}
_MULTI_CUES = frozenset("each both respectively all every multiple several separately also additionally "
                        "plus then afterwards another too as well".split())
_NOT_NAMES = STOPWORDS | frozenset("""hi hello hey thanks thank ok okay sure also firstly secondly lastly finally
additionally then next after afterwards first second third furthermore moreover besides lastly retrieve get find
search give check create update help could would should can please i'm i'd i've i'll""".split())
_CONJ = re.compile(r"(?:\s*,\s*(?:and\s+|or\s+)?|\s+(?:and|or|vs\.?)\s+|\s*&\s*)"
                   r"(?:(?:also|then|for|in|at|of|the|to|from|on|with)\s+)*(?=[a-z0-9])")
_WORD_AT = re.compile(r"[a-z0-9][a-z0-9'-]*")
_CONJ_TRIGGER = re.compile(r",|&|a(?<!\wa)nd\b|o(?<!\wo)r\b|v(?<!\wv)s\b")  # , & and or vs (as words)


_NUMBER_LIST = re.compile(r"\[[\d.,\[\]+-]*\d[\d.,\[\]+-]*\]")


class ExampleInfo:
    """Everything about one example that does not depend on the candidate."""

    def __init__(self, example: dict):
        messages = example.get("messages") or []
        user, context, turns = [], [], 0
        for message in messages:
            if not isinstance(message, dict):
                continue
            content = message.get("content")
            if isinstance(content, str) and content:
                context.append(content)
                if message.get("role") == "user":
                    user.append(content)
                    turns += 1
            calls = message.get("tool_calls")
            if isinstance(calls, list) and calls:
                try:
                    context.append(json.dumps(calls, ensure_ascii=False, default=str))
                except (TypeError, ValueError):
                    pass
        self.user_text = "\n".join(user)
        self.last_user = user[-1] if user else ""
        self.context_text = "\n".join(context)
        self.n_turns = turns
        # the whole conversation (values may come from earlier turns or tool results)
        low = self.context_text.lower()
        self.lower = low
        toks = TOKEN.findall(low)
        self.token_set = set(toks)
        self.token_str = token_string(toks)
        self.norm_text = standardize(self.context_text)
        # what the user said
        user_low = self.user_text.lower() if len(context) != len(user) else low
        self.user_lower = user_low
        user_tokens = TOKEN.findall(user_low) if user_low is not low else toks
        self.user_token_str = token_string(user_tokens) if user_low is not low else self.token_str
        other_text = "\n".join(c for c in context if c not in user)
        self.user_number_spans = find_numbers(self.user_text, user_tokens)
        self.numbers = dict(self.user_number_spans)
        if other_text:
            # the conversation's tokens include the other messages' tokens
            for number, span in find_numbers(other_text, self.token_set).items():
                self.numbers.setdefault(number, span)
        # where each word stem occurs in the user's text (char offsets), and the stems
        self.word_positions = _word_positions(user_low)
        self.user_stems = set(self.word_positions)
        if len(user) <= 1:
            self.request_stems = {w for w in self.user_stems if len(w) > 1 and w not in STOPWORDS}
        else:
            self.request_stems = {stem(w) for w in WORD.findall(self.last_user.lower()) if w not in STOPWORDS}
        entities = []
        if any(q in self.user_text for q in _QUOTE_CHARS):
            for m in _QUOTED.finditer(self.user_text):
                entities.append(next(g for g in m.groups() if g))
        self.quoted = [q for q in dict.fromkeys(standardize(e) for e in entities) if q]
        found = []
        for m in _ENTITY.finditer(self.user_text):
            words = m.group(0).strip(" ,.").split()
            at_start = bool(_SENTENCE_START.search(self.user_text, max(0, m.start() - 4), m.start())) or m.start() == 0
            while words and words[0].lower().strip(",") in _NOT_NAMES:
                words, at_start = words[1:], False
            phrase = " ".join(words).strip(" ,")
            if not phrase or (len(words) == 1 and len(phrase) < 2):
                continue
            found.append((phrase, at_start and len(words) == 1))
        mid_sentence = {p for p, at_start in found if not at_start}
        entities += [p for p, at_start in found if not at_start or p in mid_sentence]
        entities += find_emails_urls(self.user_text)
        ent_norm, parts = [], []
        for e in dict.fromkeys(entities):
            entity_tokens = tokens(e)
            if entity_tokens:
                ent_norm.append((standardize(e), token_string(entity_tokens)))
            for part in e.split(", ") if "@" not in e and "://" not in e else [e]:
                if tokens(part):
                    parts.append(standardize(part))
        self.entities = ent_norm
        self.entity_parts = list(dict.fromkeys(parts))
        self.user_numbers = [v for v in self.user_number_spans if not (1900 <= v <= 2100)]
        self.n_and = user_tokens.count("and") + user_tokens.count("or")
        self.n_commas = self.user_text.count(",")
        self.n_multi = sum(1 for t in user_tokens if t in _MULTI_CUES)
        self.n_questions = self.user_text.count("?")
        self.user_len = len(user_tokens)
        # "two cities", "both", "three accounts": how many of something the user asks for
        cue = 0
        for i, t in enumerate(user_tokens):
            n = _COUNT_WORDS.get(t)
            if n is None and t.isdigit() and 2 <= int(t) <= 5 and i + 1 < len(user_tokens) \
                    and user_tokens[i + 1].endswith("s") and not user_tokens[i + 1].isdigit():
                n = int(t)
            if n is not None:
                cue = max(cue, n)
        self.count_cue = cue
        self.non_ascii = 1.0 - len(self.user_text.encode("ascii", "ignore")) / max(1, len(self.user_text))
        # tools
        tools = [t for t in example.get("tools") or [] if isinstance(t, dict) and isinstance(t.get("name"), str)]
        infos: dict[str, ToolInfo] = {}
        for tool in tools:
            if tool["name"] not in infos:
                infos[tool["name"]] = tool_info(tool)
        request = self.request_stems
        self.sim: dict[str, float] = {}
        self.name_hit: dict[str, float] = {}
        self.score: dict[str, float] = {}
        for name, info in infos.items():
            self.sim[name] = jaccard(request, info.words)
            self.name_hit[name] = len(info.name_words & request) / len(info.name_words) if info.name_words else 0.0
            self.score[name] = self.sim[name] + 0.5 * self.name_hit[name]
        ranked = sorted(infos, key=lambda name: -self.score[name])
        self.rank = {name: rank for rank, name in enumerate(ranked)}
        self.tools = infos
        self.aliases = {name.replace(".", "_"): name for name in infos if "." in name}
        self.keys = {info.key: name for name, info in infos.items()}
        sims = sorted(self.score.values(), reverse=True)
        self.best_sim = sims[0] if sims else 0.0
        self.second_sim = sims[1] if len(sims) > 1 else 0.0
        self.relevant = [name for name, score in self.score.items() if score > 0.05 and score >= 0.6 * self.best_sim]
        self.n_relevant = len(self.relevant)
        # no tool resembles the request (in a language the word overlap can judge)
        self.no_tool_fits = max(0.0, 1.0 - self.best_sim / 0.2) * (1.0 - min(1.0, self.non_ascii * 5))
        self.n_tools = len(infos)
        self.max_required = max((len(t.required) for t in infos.values()), default=0)
        self._cache: dict[tuple, Any] = {}

    # -- grounding -----------------------------------------------------------

    @functools.cached_property
    def listed(self) -> tuple[dict[int, str], dict[int, str]]:
        return listed_pairs(self.user_lower)

    @functools.cached_property
    def user_number_norms(self) -> list[tuple[float, str]]:
        """(number, its normalized text) of the user's numbers (`user_numbers`)."""
        return [(x, standardize(format_number(x))) for x in self.user_numbers]

    @functools.cached_property
    def entity_token_strings(self) -> set[str]:
        """The token strings of the user's entities (see `entities`)."""
        return {ent_toks for _, ent_toks in self.entities}

    @functools.cached_property
    def entity_token_text(self) -> str:
        """The token strings of the user's entities, joined: `tstr in` it finds a span of any entity."""
        return "\x00".join(ent_toks for _, ent_toks in self.entities)

    @functools.cached_property
    def user_brackets(self) -> bool:
        """Did the user write a bracketed list ("[[1, 2], [3, 4]]", "(3, 5)")?"""
        return "[" in self.user_text or "(" in self.user_text

    @functools.cached_property
    def compact_user(self) -> str:
        """The user's text without spaces, round brackets written as square ones."""
        return self.user_text.replace(" ", "").replace("(", "[").replace(")", "]").lower()

    @functools.cached_property
    def user_number_lists(self) -> str:
        """The bracketed lists of numbers the user wrote (`compact_user` form), joined."""
        return "\x00".join(_NUMBER_LIST.findall(self.compact_user))

    @functools.cached_property
    def user_percents(self) -> frozenset:
        """The numbers the user wrote as percentages ("3.5%", "5 percent")."""
        out = set()
        for number, (start, end) in self.user_number_spans.items():
            after = self.user_text[end:end + 9].lstrip().lower()
            if after.startswith("%") or after.startswith("percent") or after.startswith("per cent"):
                out.add(number)
        return frozenset(out)

    @functools.cached_property
    def dates(self) -> set[str]:
        return find_dates(self.context_text)

    @functools.cached_property
    def month_days(self) -> set[str]:
        return find_month_days(self.context_text)

    def token_span(self, toks: list[str]) -> int:
        """Char offset in the conversation's token string of the token span, or -1."""
        if not toks:
            return -1
        return self.token_str.find(token_string(toks))

    def enum_mentions(self, key: tuple, param: ParamInfo) -> set:
        """Enum members (normalized) that the user's own words name."""
        ckey = ("enum",) + key
        hit = self._cache.get(ckey)
        if hit is None:
            hit = set()
            for member in param.enum or ():
                if isinstance(member, str):
                    member_tokens = tokens(member)
                    if member_tokens and token_string(member_tokens) in self.user_token_str:
                        hit.add(standardize(member))
                elif isinstance(member, (int, float)) and not isinstance(member, bool):
                    if float(member) in self.numbers:
                        hit.add(standardize(str(member)))
            self._cache[ckey] = hit
        return hit

    def param_mention(self, key: tuple, param: ParamInfo) -> float:
        """Share of the parameter's distinctive name words that the user used (-1: none to check)."""
        ckey = ("mention",) + key
        hit = self._cache.get(ckey)
        if hit is None:
            words = [w for w in param.words if w not in GENERIC_PARAM_WORDS]
            if not words:
                hit = -1.0
            else:
                hit = sum(1 for w in words if w in self.user_stems) / len(words)
            self._cache[ckey] = hit
        return hit

    def nearest_offset(self, words: Iterable[str], at: int) -> float:
        best = math.inf
        positions = self.word_positions
        for w in words:
            for p in positions.get(w, ()):
                d = abs(p - at)
                if d < best:
                    best = d
        return best

    def optional_cues(self, name: str, info: ToolInfo) -> list[tuple[str, float, int]]:
        """(param, how much the user mentioned its name, whether the user named an enum member)
        for each optional parameter of a tool."""
        ckey = ("optional", name)
        hit = self._cache.get(ckey)
        if hit is None:
            required = set(info.required)
            hit = []
            for key, param in info.params.items():
                if key in required:
                    continue
                enum_cued = int(param.enum is not None and bool(self.enum_mentions((name, key), param)))
                hit.append((key, self.param_mention((name, key), param), enum_cued))
            self._cache[ckey] = hit
        return hit

    def window(self, offset: int, length: int) -> set[str]:
        """Stems of the 4 words before and the 2 words after a span of the user text."""
        ckey = ("window", offset, length)
        hit = self._cache.get(ckey)
        if hit is None:
            text = self.user_lower
            hit = {stem(t) for t in TOKEN.findall(text, max(0, offset - 48), offset)[-4:]}
            hit |= {stem(t) for t in TOKEN.findall(text, offset + length, offset + length + 24)[:2]}
            self._cache[ckey] = hit
        return hit

    def sub_params(self, key: tuple, param: ParamInfo) -> dict[str, ParamInfo]:
        ckey = ("props",) + key
        hit = self._cache.get(ckey)
        if hit is None:
            hit = {k: ParamInfo(k, v) for k, v in (param.properties or {}).items()}
            self._cache[ckey] = hit
        return hit

    def items_param(self, key: tuple, param: ParamInfo) -> ParamInfo | None:
        ckey = ("items",) + key
        if ckey not in self._cache:
            info = ParamInfo(param.name, param.items) if param.items else None
            if info is not None and not info.conventions:
                # "inflation rates, ranging from 0 to 1" on the array speaks of its items
                info.__dict__["conventions"] = param.conventions
            self._cache[ckey] = info
        return self._cache[ckey]


def _word_positions(text: str) -> dict[str, tuple[int, ...]]:
    """Where each word stem occurs in the text (char offsets)."""
    # tuples of ints, which the garbage collector stops tracking (an example keeps many)
    positions: dict[str, tuple[int, ...]] = {}
    get = positions.get
    for m in WORD.finditer(text):
        key = stem(m[0])
        positions[key] = get(key, ()) + (m.start(),)
    return positions


def jaccard(a: set, b: set) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def listed_pairs(text: str) -> tuple[dict[int, str], dict[int, str]]:
    """Words joined by a conjunction or comma: {end of left word: right word}, {start of right: left}."""
    after: dict[int, str] = {}
    before: dict[int, str] = {}
    for trigger in _CONJ_TRIGGER.finditer(text):
        # back up over spaces to the end of the left word, then match the whole joiner there
        start = trigger.start()
        while start > 0 and text[start - 1] == " ":
            start -= 1
        if start == 0 or not (text[start - 1].isalnum() or text[start - 1] in "'-") or start in after:
            continue
        m = _CONJ.match(text, start)
        if m is None:
            continue
        end = m.end()
        right = _WORD_AT.match(text, end)
        left = word_ending_at(text, max(0, start - 40), start)
        if right is None or left is None:
            continue
        after[start] = right.group(0)
        before[end] = left
    return after, before


class ContextCache:
    """A bounded cache of ExampleInfo by example identity and content."""

    def __init__(self, size: int = 4096):
        self.size = size
        self._items: OrderedDict[Any, ExampleInfo] = OrderedDict()

    @staticmethod
    def key(example: dict) -> Any:
        content = example.get("content_hash")
        if content:
            return ("h", example.get("example_id"), content)
        return ("o", id(example))

    def get(self, example: dict) -> ExampleInfo:
        key = self.key(example)
        info = self._items.get(key)
        if info is not None and key[0] == "h":
            self._items.move_to_end(key)
            return info
        info = ExampleInfo(example)
        if key[0] == "h":
            self._items[key] = info
            if len(self._items) > self.size:
                self._items.popitem(last=False)
        return info
