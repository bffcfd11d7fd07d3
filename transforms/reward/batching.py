"""Token-budget batching: group rows of similar length so padding stays small.

A transformer batch is a rectangle: every row is padded to the batch's longest
row, and the GPU pays for the padding. Batching rows in arrival order pads a
200-token row to the 4,000 tokens of its neighbour; sorting by length first
and then filling each batch up to a budget of *padded* tokens (longest row x
rows) keeps both the waste and the peak memory of a batch bounded, whatever
the mix of lengths.

Pure Python on lists of ints, so the batching is tested without a model.
"""
from __future__ import annotations

from typing import Sequence


def token_budget_batches(lengths: Sequence[int], max_tokens: int, max_rows: int | None = None) -> list[list[int]]:
    """Indexes of `lengths` grouped into batches whose padded size fits `max_tokens`.

    Rows are taken longest first (ties by index, so the result is
    deterministic), and a batch is closed when one more row would make
    `longest_row * rows` exceed `max_tokens` or the batch would exceed
    `max_rows`. Longest first puts the largest batch first, so a batch that
    does not fit in memory fails at once instead of at the end.

    A row longer than `max_tokens` cannot be split: it becomes a batch of its
    own (callers that must never exceed the budget cap lengths beforehand).
    Every index appears in exactly one batch.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be positive, got {max_tokens!r}")
    if max_rows is not None and max_rows < 1:
        raise ValueError(f"max_rows must be positive, got {max_rows!r}")
    for length in lengths:
        if length < 0:
            raise ValueError(f"lengths must be non-negative, got {length!r}")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for index in order:
        # Rows come longest first, so the batch's longest row is its first one.
        width = longest if current else lengths[index]
        full = current and ((len(current) + 1) * max(width, 1) > max_tokens
                            or (max_rows is not None and len(current) >= max_rows))
        if full:
            batches.append(current)
            current = []
        if not current:
            longest = lengths[index]
        current.append(index)
    if current:
        batches.append(current)
    return batches


def fixed_size_batches(count: int, size: int) -> list[list[int]]:
    """Indexes 0..count-1 in arrival order, `size` at a time (the naive way)."""
    if size < 1:
        raise ValueError(f"size must be positive, got {size!r}")
    return [list(range(start, min(start + size, count))) for start in range(0, count, size)]


def padded_tokens(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> int:
    """Tokens the model processes when each batch is padded to its own longest row."""
    return sum(max(lengths[i] for i in batch) * len(batch) for batch in batches if batch)


def padding_waste(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> float:
    """Share of processed tokens that are padding: 0.0 is none, 0.5 is half."""
    padded = padded_tokens(lengths, batches)
    if padded == 0:
        return 0.0
    real = sum(lengths[i] for batch in batches for i in batch)
    return 1.0 - real / padded
