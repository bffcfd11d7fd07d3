"""Reward-model scoring throughput: pad-to-longest, token-budget batching, and prefix-shared scoring.

The real run (needs a CUDA GPU; a few minutes on one H200):

    python benchmarks/gpu_scoring.py --config qwen3-1.7b --device cuda --inputs mix --num_examples 64 \
        --max_batch_tokens 65536 --peak_tflops 790 --json

CPU smoke runs with a tiny model (a minute or two each on two loaded CPU cores):

    python benchmarks/gpu_scoring.py --config tiny --inputs mix --json
    python benchmarks/gpu_scoring.py --config tiny --json

Builds a `Qwen3ForSequenceClassification` with random weights (`qwen3-1.7b`:
Qwen3-1.7B's shape, hidden 2048, 28 layers, 16 heads, 8 kv heads,
intermediate 6144, vocab 151936; `tiny`: a few layers for CPU) and a set of
inputs, then times ways of scoring the same inputs with the handler's own
code (`RewardScorer`: right padding, `torch.inference_mode()`):
  (a) `token_budget` (`sorted`): `RewardScorer.score_full`, length-sorted
      micro-batches of at most `--max_batch_tokens` padded tokens;
  (b) `pad_to_longest` (`naive`): inputs in arrival order, `--naive_batch_size`
      at a time, each batch padded to its longest row. Its default is the
      largest size whose worst case (`max_len` x rows) fits the same token
      budget, so both ways have the same peak memory bound;
  (c) `prefix_shared` (`--inputs mix` only): `RewardScorer.score_prefix_shared`,
      each example's prefix run once and every candidate's suffix against its
      cached keys and values (transforms/reward/prefix_sharing.py).

Inputs (`--inputs`): `mix`, the realistic shape of reward scoring: examples
with 5-12 candidates each (`--min_candidates`/`--max_candidates`) sharing a
prefix (tools + conversation) of 300-3,000 tokens (`--min_prefix`/
`--max_prefix`, log-uniform) and a candidate suffix of 20-150 tokens, random
ids, examples in random order with their candidates together;
`lognormal` token lengths clipped to [min_len, max_len] (random ids); or
`samples`: the bundled BFCL and ACEBench examples with their reference and
rule-made candidates, serialized by the real `RewardSerializer` (chat
template) with a WordLevel tokenizer trained here on their text; their ids are
folded into the model's vocabulary. `samples` also times serialization.

Throughput is counted in the tokens of the full sequences scored (the same
for every method, so tokens/s compare directly) and in candidates/s. Model
FLOPs utilization counts the work a method does that is needed (real tokens,
not padding): 2 x non-embedding parameters per token plus causal attention,
2 x layers x (heads x head_dim) x s^2 per sequence of s tokens (QK^T and AV,
the causal half); for prefix-shared scoring each prefix once, and each
suffix of s tokens after a prefix of P with its attention to the prefix
(4 x layers x d_attn x P x s + 2 x layers x d_attn x s^2); divided by time
and `--peak_tflops` (dense bf16 peak; 790 ~ H200 SXM without sparsity).
"""
from __future__ import annotations

import argparse
import glob
import json
import math
import os
import random
import time

from toolrm_beam.data import SAMPLES
from toolrm_beam.transforms.reward.batching import (
    fixed_size_batches, padded_tokens, padding_waste, token_budget_batches)

CONFIGS = {
    "qwen3-1.7b": dict(hidden_size=2048, num_hidden_layers=28, num_attention_heads=16, num_key_value_heads=8,
                       head_dim=128, intermediate_size=6144, vocab_size=151936, max_position_embeddings=40960),
    "tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                 head_dim=16, intermediate_size=192, vocab_size=4096, max_position_embeddings=8192),
}
# Sizes that keep the CPU smoke run short.
TINY_DEFAULTS = {"num_inputs": 96, "max_len": 2000, "max_batch_tokens": 8192}
PAD_ID = 0


def build_model(name: str, device: str, dtype: str):
    import torch
    from transformers import Qwen3Config, Qwen3ForSequenceClassification

    config = Qwen3Config(**CONFIGS[name], num_labels=1, pad_token_id=PAD_ID, eos_token_id=1, bos_token_id=None,
                         tie_word_embeddings=False)
    torch.manual_seed(0)
    torch_dtype = getattr(torch, dtype)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch_dtype)
    try:
        with torch.device(device):
            model = Qwen3ForSequenceClassification(config)
    finally:
        torch.set_default_dtype(previous)
    model.eval()
    return model


def non_embedding_params(model) -> int:
    embedding = model.model.embed_tokens.weight.numel()
    return sum(p.numel() for p in model.parameters()) - embedding


def model_flops(lengths: list[int], params: int, config) -> float:
    d_attn = config.num_attention_heads * config.head_dim
    return sum(2.0 * params * s + 2.0 * config.num_hidden_layers * d_attn * s * s for s in lengths)


def prefix_shared_flops(rows: list[list[int]], groups: list[tuple[int, list[int]]], params: int, config) -> float:
    """Work of prefix-shared scoring: each prefix once, each suffix with its attention to the prefix."""
    d_attn, layers = config.num_attention_heads * config.head_dim, config.num_hidden_layers
    grouped = {i for _, members in groups for i in members}
    total = model_flops([len(rows[i]) for i in range(len(rows)) if i not in grouped], params, config)
    for prefix, members in groups:
        total += model_flops([prefix], params, config)
        for i in members:
            s = len(rows[i]) - prefix
            total += 2.0 * params * s + layers * d_attn * (4.0 * prefix * s + 2.0 * s * s)
    return total


def mix_rows(num_examples: int, vocab: int, seed: int, *, min_prefix: int = 300, max_prefix: int = 3000,
             min_candidates: int = 5, max_candidates: int = 12, min_suffix: int = 20,
             max_suffix: int = 150) -> tuple[list[list[int]], list[str]]:
    """Rows of examples whose candidates share a prefix, and each row's example key."""
    rng = random.Random(seed + 2)
    rows, keys = [], []
    for example in range(num_examples):
        prefix_len = int(math.exp(rng.uniform(math.log(min_prefix), math.log(max_prefix))))
        prefix = [rng.randrange(2, vocab) for _ in range(prefix_len)]
        for _ in range(rng.randint(min_candidates, max_candidates)):
            rows.append(prefix + [rng.randrange(2, vocab) for _ in range(rng.randint(min_suffix, max_suffix))])
            keys.append(f"example-{example}")
    return rows, keys


def lognormal_lengths(count: int, low: int, high: int, seed: int) -> list[int]:
    """Token lengths with a long tail: median near 3x `low`, clipped to [low, high]."""
    rng = random.Random(seed)
    mu = math.log(low * 3)
    return [min(high, max(low, int(rng.lognormvariate(mu, 0.8)))) for _ in range(count)]


def random_rows(lengths: list[int], vocab: int, seed: int) -> list[list[int]]:
    rng = random.Random(seed + 1)
    return [[rng.randrange(2, vocab) for _ in range(n)] for n in lengths]


SAMPLE_TEMPLATE = (
    "{%- if tools %}{{ '<|im_start|>system\\n# Tools' }}"
    "{%- for tool in tools %}{{ '\\n' + (tool | tojson) }}{%- endfor %}{{ '<|im_end|>\\n' }}{%- endif %}"
    "{%- for message in messages %}{{ '<|im_start|>' + message.role + '\\n' }}"
    "{%- if message.content %}{{ message.content }}{%- endif %}"
    "{%- for call in message.tool_calls or [] %}"
    "{{ '\\n<tool_call>{\"name\": \"' + call.function.name + '\", \"arguments\": ' }}"
    "{%- if call.function.arguments is string %}{{ call.function.arguments }}"
    "{%- else %}{{ call.function.arguments | tojson }}{%- endif %}{{ '}</tool_call>' }}"
    "{%- endfor %}{{ '<|im_end|>\\n' }}{%- endfor %}"
)


def sample_rows(count: int, max_len: int, vocab: int, seed: int) -> tuple[list[list[int]], dict]:
    """Serialized (example, candidate) pairs from the bundled samples, and serialization stats."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from toolrm_beam.transforms import rules
    from toolrm_beam.transforms.corpus_examples import file_examples
    from toolrm_beam.transforms.reward.serialize import RewardSerializer

    examples = [example for source, folder in (("bfcl", "bfcl_live_sample"), ("acebench", "acebench_en"))
                for path in sorted(glob.glob(os.path.join(SAMPLES, folder, "*.json")))
                for example in file_examples(source, path)]
    pairs = []
    for example in examples:
        if example.get("reference"):
            pairs.append((example, rules.reference_candidate(example)["output"]))
            pairs.extend((example, c["output"]) for c in rules.generate_rule_candidates(
                example, seed=seed, mix=None, max_negatives=2))
        else:
            pairs.append((example, "I cannot help with that using these tools."))
    random.Random(seed).shuffle(pairs)
    pairs = pairs[:count]

    raw = Tokenizer(models.WordLevel(unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    raw.train_from_iterator([json.dumps(e) for e in examples],
                            trainers.WordLevelTrainer(special_tokens=["<pad>", "<unk>", "<|im_start|>", "<|im_end|>"],
                                                      vocab_size=vocab))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="<unk>", pad_token="<pad>",
                                        eos_token="<|im_end|>")
    tokenizer.chat_template = SAMPLE_TEMPLATE
    serializer = RewardSerializer(tokenizer, max_len)
    start = time.perf_counter()
    serialized = [serializer.serialize(example, output) for example, output in pairs]
    seconds = time.perf_counter() - start
    rows = [[(i % (vocab - 2)) + 2 if i != tokenizer.pad_token_id else 2 for i in s.input_ids]
            for s in serialized if s.input_ids]
    stats = {"pairs": len(pairs), "serialize_s": round(seconds, 3),
             "serialize_rows_per_s": round(len(pairs) / seconds, 1),
             "truncated": sum(1 for s in serialized if s.truncation), "skipped": len(pairs) - len(rows)}
    return rows, stats


def timed(function, device: str) -> tuple[object, float]:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    result = function()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return result, time.perf_counter() - start


def run(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="tiny")
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda where available)")
    parser.add_argument("--dtype", default="auto", choices=("auto", "float32", "bfloat16", "float16"))
    parser.add_argument("--inputs", choices=("mix", "lognormal", "samples"), default="lognormal")
    parser.add_argument("--num_inputs", type=int, default=None)
    parser.add_argument("--num_examples", type=int, default=None, help="mix: examples (default 64; tiny 6)")
    parser.add_argument("--min_prefix", type=int, default=300)
    parser.add_argument("--max_prefix", type=int, default=3000)
    parser.add_argument("--min_candidates", type=int, default=5)
    parser.add_argument("--max_candidates", type=int, default=12)
    parser.add_argument("--min_len", type=int, default=200)
    parser.add_argument("--max_len", type=int, default=None, help="longest input (default 4000; tiny 2000)")
    parser.add_argument("--max_batch_tokens", type=int, default=None,
                        help="padded-token budget of one forward pass (default 65536; tiny 8192)")
    parser.add_argument("--naive_batch_size", type=int, default=None)
    parser.add_argument("--peak_tflops", type=float, default=790.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="also print the results as one JSON line")
    args = parser.parse_args(argv)

    import torch

    from toolrm_beam.transforms.reward.transformers_rm import RewardScorer

    tiny = args.config == "tiny"
    num_inputs = args.num_inputs or (TINY_DEFAULTS["num_inputs"] if tiny else 512)
    max_len = args.max_len or (TINY_DEFAULTS["max_len"] if tiny else 4000)
    if args.inputs == "mix":
        max_len = max(max_len, args.max_prefix + 150)
    budget = args.max_batch_tokens or (TINY_DEFAULTS["max_batch_tokens"] if tiny else 65536)
    if budget < max_len:
        parser.error("--max_batch_tokens must be at least --max_len")
    naive_size = args.naive_batch_size or max(1, budget // max_len)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = args.dtype if args.dtype != "auto" else ("bfloat16" if device.startswith("cuda") else "float32")

    model = build_model(args.config, device, dtype)
    config = model.config
    params = non_embedding_params(model)
    serialization = None
    keys = None
    if args.inputs == "mix":
        rows, keys = mix_rows(args.num_examples or (6 if tiny else 64), config.vocab_size, args.seed,
                              min_prefix=args.min_prefix, max_prefix=args.max_prefix,
                              min_candidates=args.min_candidates, max_candidates=args.max_candidates)
    elif args.inputs == "samples":
        rows, serialization = sample_rows(num_inputs, max_len, config.vocab_size, args.seed)
    else:
        rows = random_rows(lognormal_lengths(num_inputs, args.min_len, max_len, args.seed),
                           config.vocab_size, args.seed)
    lengths = [len(r) for r in rows]
    scorer = RewardScorer(model, serializer=None, device=device, name=args.config, pad_token_id=PAD_ID,
                          max_batch_tokens=budget)

    # Warm-up: kernels, allocator, thread pools.
    warm = sorted(rows, key=len)[: max(2, naive_size)]
    timed(lambda: scorer.forward(warm), device)

    sorted_batches = token_budget_batches(lengths, budget)
    naive_batches = fixed_size_batches(len(rows), naive_size)
    sorted_scores, sorted_s = timed(lambda: scorer.score_full(rows), device)

    def naive():
        scores = []
        for batch in naive_batches:
            scores.extend(scorer.forward([rows[i] for i in batch]))
        return scores

    naive_scores, naive_s = timed(naive, device)
    shared = None
    if keys is not None:
        from toolrm_beam.transforms.reward.prefix_sharing import shared_prefix_groups

        groups, _ = shared_prefix_groups(rows, keys)
        timed(lambda: scorer.score_prefix_shared(rows[:sum(len(m) for _, m in groups[:2])],
                                                 keys[:sum(len(m) for _, m in groups[:2])]), device)  # warm-up
        shared_scores, shared_s = timed(lambda: scorer.score_prefix_shared(rows, keys), device)
        shared = (groups, shared_scores, shared_s)
    useful = model_flops(lengths, params, config)
    real = sum(lengths)
    results = {"config": args.config, "device": device, "dtype": dtype, "inputs": args.inputs,
               "rows": len(rows), "real_tokens": real, "min_len": min(lengths), "max_len": max(lengths),
               "mean_len": round(real / len(rows), 1), "non_embedding_params": params,
               "max_batch_tokens": budget, "naive_batch_size": naive_size, "peak_tflops": args.peak_tflops,
               "max_score_difference": max(abs(a - b) for a, b in zip(sorted_scores, naive_scores)),
               "methods": {}}
    if serialization:
        results["serialization"] = serialization
    names = {"sorted": "token_budget", "naive": "pad_to_longest"} if keys is not None else {}
    for name, batches, seconds in (("sorted", sorted_batches, sorted_s), ("naive", naive_batches, naive_s)):
        results["methods"][names.get(name, name)] = {
            "forwards": len(batches), "padded_tokens": padded_tokens(lengths, batches),
            "padding_waste": round(padding_waste(lengths, batches), 4), "seconds": round(seconds, 4),
            "tokens_per_s": round(real / seconds, 1), "candidates_per_s": round(len(rows) / seconds, 1),
            "mfu": round(useful / seconds / (args.peak_tflops * 1e12), 5)}
    results["speedup"] = round(naive_s / sorted_s, 3)
    if shared is not None:
        groups, shared_scores, shared_s = shared
        work = prefix_shared_flops(rows, groups, params, config)
        prefix_tokens = sum(prefix for prefix, _ in groups)
        results["examples"] = len(set(keys))
        results["methods"]["prefix_shared"] = {
            "forwards": None, "padded_tokens": None, "padding_waste": None, "seconds": round(shared_s, 4),
            "tokens_per_s": round(real / shared_s, 1), "candidates_per_s": round(len(rows) / shared_s, 1),
            "mfu": round(work / shared_s / (args.peak_tflops * 1e12), 5),
            "tokens_run": prefix_tokens + sum(len(rows[i]) - p for p, m in groups for i in m),
            "max_score_difference_vs_token_budget": max(abs(a - b) for a, b in zip(shared_scores, sorted_scores))}
        results["prefix_shared_speedup_vs_token_budget"] = round(sorted_s / shared_s, 3)
        results["prefix_shared_speedup_vs_pad_to_longest"] = round(naive_s / shared_s, 3)

    print(f"{args.config} on {device} ({dtype}): {len(rows)} inputs, {real} tokens "
          f"(len {min(lengths)}-{max(lengths)}, mean {real / len(rows):.0f}), "
          f"{params / 1e6:.1f}M non-embedding params, budget {budget} tokens, naive batch {naive_size}")
    header = (f"{'method':<15}{'forwards':>9}{'padded':>11}{'waste':>8}{'seconds':>10}{'tokens/s':>12}"
              f"{'cands/s':>10}{'MFU':>9}")
    print(header)
    print("-" * len(header))
    for name, m in results["methods"].items():
        forwards = "-" if m["forwards"] is None else m["forwards"]
        padded = "-" if m["padded_tokens"] is None else m["padded_tokens"]
        waste = "-" if m["padding_waste"] is None else f"{m['padding_waste']:.1%}"
        print(f"{name:<15}{forwards:>9}{padded:>11}{waste:>8}{m['seconds']:>10.3f}"
              f"{m['tokens_per_s']:>12.0f}{m['candidates_per_s']:>10.1f}{m['mfu']:>9.2%}")
    print(f"speedup of token-budget over pad-to-longest: {results['speedup']:.2f}x; "
          f"max score difference {results['max_score_difference']:.2e}")
    if shared is not None:
        print(f"prefix-shared: {results['prefix_shared_speedup_vs_token_budget']:.2f}x the candidates/s of "
              f"token-budget, {results['prefix_shared_speedup_vs_pad_to_longest']:.2f}x pad-to-longest; max score "
              f"difference {results['methods']['prefix_shared']['max_score_difference_vs_token_budget']:.2e}")
    if serialization:
        print(f"serialization: {serialization}")
    if args.json:
        print(json.dumps(results))
    return results


if __name__ == "__main__":
    run()
