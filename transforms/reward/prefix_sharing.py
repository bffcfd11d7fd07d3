"""Prefix-shared scoring: an example's candidates read their common prefix once.

Every candidate of an example is serialized as the same tools and
conversation followed by its own short assistant turn, so their token
sequences share a long prefix. A causal model's states for that prefix do not
depend on what follows it: one forward pass over the prefix gives the keys and
values (KV cache) of every layer, and each candidate then runs only its suffix
against that cache, at the positions it has in the full sequence. The score
(the logit at the last token) is the one full-sequence scoring gives, up to
floating-point rounding.

How a batch is scored (`score_shared_prefixes`):
1. rows are grouped by example; a group's prefix is the longest prefix all its
   sequences share, leaving each at least one token of its own
   (`shared_prefix_groups`). Groups with one row, or a prefix shorter than
   `min_prefix` tokens, are scored as full sequences instead: that is also
   what happens where a chat template does not put the candidate last (the
   sequences then share little or nothing);
2. groups are sorted by prefix length and their prefixes run in token-budget
   batches (longest prefix x prefixes <= `max_batch_tokens`), right-padded,
   keeping the cache;
3. the suffixes of a prefix batch run in token-budget chunks (rows x (longest
   prefix + longest suffix) <= `max_batch_tokens`), each row with its group's
   cached prefix, an attention mask that hides the prefix padding, and
   position ids that continue its own prefix.

The grouping is pure Python (tested without a model); the passes need torch.
"""
from __future__ import annotations

from typing import Any, Hashable, Sequence

from toolrm_beam.transforms.reward.batching import token_budget_batches

MIN_SHARED_PREFIX = 16


def common_prefix_length(rows: Sequence[Sequence[int]]) -> int:
    """Length of the longest prefix every row shares."""
    if not rows:
        return 0
    first, length = rows[0], min(len(row) for row in rows)
    for row in rows[1:]:
        position = 0
        while position < length and row[position] == first[position]:
            position += 1
        length = position
    return length


def shared_prefix_groups(rows: Sequence[Sequence[int]], keys: Sequence[Hashable | None],
                         min_prefix: int = MIN_SHARED_PREFIX) -> tuple[list[tuple[int, list[int]]], list[int]]:
    """(groups as (prefix length, row indexes), indexes of rows to score whole), in first-seen order.

    Rows group by key (the example); a group keeps a prefix only where all its
    rows share at least `min_prefix` tokens and each keeps a token of its own.
    """
    by_key: dict[Hashable, list[int]] = {}
    whole: list[int] = []
    for index, key in enumerate(keys):
        if key is None:
            whole.append(index)
        else:
            by_key.setdefault(key, []).append(index)
    groups = []
    for indexes in by_key.values():
        members = [rows[i] for i in indexes]
        prefix = min(common_prefix_length(members), min(len(row) for row in members) - 1)
        if len(indexes) < 2 or prefix < min_prefix:
            whole.extend(indexes)
        else:
            groups.append((prefix, indexes))
    return groups, sorted(whole)


def _caches_are_plain(cache: Any) -> bool:
    """Only full (non-sliding) dynamic layers can be re-batched row by row here."""
    layers = getattr(cache, "layers", None)
    return bool(layers) and all(type(layer).__name__ == "DynamicLayer" for layer in layers)


def _rows_of_cache(cache: Any, index, config: Any):
    """A new cache holding the prefix rows `index` (a tensor) of `cache`, in that order."""
    from transformers import DynamicCache

    selected = DynamicCache(config=config)
    for layer_index, layer in enumerate(cache.layers):
        selected.update(layer.keys.index_select(0, index), layer.values.index_select(0, index), layer_index)
    return selected


def score_shared_prefixes(model: Any, rows: Sequence[Sequence[int]], groups: list[tuple[int, list[int]]], *,
                          pad_token_id: int, device: str, max_batch_tokens: int,
                          max_rows: int | None = None) -> dict[int, float] | None:
    """Scores of the grouped rows, by row index; None when the model's cache cannot be shared this way."""
    import torch

    scores: dict[int, float] = {}
    prefix_lengths = [prefix for prefix, _ in groups]
    for prefix_batch in token_budget_batches(prefix_lengths, max_batch_tokens, max_rows):
        members = [groups[g] for g in prefix_batch]
        width = max(prefix for prefix, _ in members)
        prefix_ids = torch.full((len(members), width), pad_token_id, dtype=torch.long)
        prefix_mask = torch.zeros((len(members), width), dtype=torch.long)
        for slot, (prefix, indexes) in enumerate(members):
            prefix_ids[slot, :prefix] = torch.as_tensor(list(rows[indexes[0]][:prefix]), dtype=torch.long)
            prefix_mask[slot, :prefix] = 1
        with torch.inference_mode():
            cache = model.base_model(input_ids=prefix_ids.to(device), attention_mask=prefix_mask.to(device),
                                     use_cache=True).cache
        if not _caches_are_plain(cache):
            return None
        suffix_rows = [(slot, index) for slot, (_, indexes) in enumerate(members) for index in indexes]
        lengths = [width + len(rows[index]) - members[slot][0] for slot, index in suffix_rows]
        for chunk in token_budget_batches(lengths, max_batch_tokens, max_rows):
            chosen = [suffix_rows[c] for c in chunk]
            suffix_width = max(len(rows[index]) - members[slot][0] for slot, index in chosen)
            ids = torch.full((len(chosen), suffix_width), pad_token_id, dtype=torch.long)
            mask = torch.zeros((len(chosen), width + suffix_width), dtype=torch.long)
            positions = torch.zeros((len(chosen), suffix_width), dtype=torch.long)
            for row, (slot, index) in enumerate(chosen):
                prefix = members[slot][0]
                suffix = list(rows[index][prefix:])
                ids[row, :len(suffix)] = torch.as_tensor(suffix, dtype=torch.long)
                mask[row, :prefix] = 1
                mask[row, width:width + len(suffix)] = 1
                positions[row] = torch.arange(prefix, prefix + suffix_width)
            slots = torch.as_tensor([slot for slot, _ in chosen], dtype=torch.long, device=cache.layers[0].keys.device)
            with torch.inference_mode():
                logits = model(input_ids=ids.to(device), attention_mask=mask.to(device),
                               position_ids=positions.to(device), cache=_rows_of_cache(cache, slots, model.config),
                               use_cache=True).logits
            for row, value in enumerate(logits[:, 0].float().cpu().tolist()):
                scores[chosen[row][1]] = value
        del cache
    return scores
