"""RunInference model handler: a sequence-classification reward model run with transformers.

Works with any `AutoModelForSequenceClassification` checkpoint with one
logit (ToolRM-style, e.g. `Qwen3ForSequenceClassification` with
`num_labels=1`); the logit is the score. bfloat16 on GPU, float32 on CPU.

How a batch from Beam is scored:
1. each (example, candidate) is serialized and truncated (`serialize.py`);
2. an example's candidates share their prefix (tools and conversation): with
   `prefix_sharing` (the default) the prefix runs once and each candidate
   only its own suffix against the cached keys and values
   (`prefix_sharing.py`); the same scores for a fraction of the work. Rows
   without a usable shared prefix (one candidate, or a template that does
   not put the candidate last) go the full-sequence way:
3. the token sequences are sorted by length and cut into micro-batches whose
   padded size (longest row x rows) stays under `max_batch_tokens`
   (`batching.py`), so a short row is never padded to a long neighbour;
   each micro-batch is right-padded to its own longest row with the model's
   `pad_token_id` and run under `torch.inference_mode()`;
4. results go back in the batch's original order, matched by position.

Padding: decoder classifiers (Qwen, Llama) read the logit at the rightmost
token that is not `config.pad_token_id`. Rows are padded on the right with
exactly that id, so a row scores the same alone or beside longer rows, and
the position ids of real tokens do not depend on the batch. Where the config
has no pad id, the tokenizer's pad (else its eos) is set on the config, as
the checkpoint's own trainer would have done.

Rows are independent: a row that cannot be serialized, or whose candidate is
longer than `max_length`, gets `score=None` and an `error` code instead of
failing its neighbours. Malformed elements (not an example and a candidate)
fail in the handler's preprocessing step, where
`RunInference(...).with_exception_handling()` routes them, one by one, to
`failed_preprocessing[0]`.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any, Callable, Optional, Sequence

from toolrm_beam.transforms.run_inference import ModelHandler

from toolrm_beam.transforms.model_files import check_device_and_dtype, load_pretrained
from toolrm_beam.transforms.reward.batching import token_budget_batches
from toolrm_beam.transforms.reward.prefix_sharing import MIN_SHARED_PREFIX, score_shared_prefixes, shared_prefix_groups
from toolrm_beam.transforms.reward.serialize import CANDIDATE_TOO_LONG, RewardSerializer, Serialized

_LOG = logging.getLogger(__name__)


# --- what the handler takes and gives ------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ScoreRequest:
    """One candidate to score, with its canonical example."""
    example: dict
    candidate: dict


@dataclasses.dataclass(frozen=True)
class ScoreResult:
    """The reward model's opinion of one candidate.

    `score` is the model's logit, or None where the row was not scored; then
    `error` says why (`score:candidate_too_long`, `score:serialize_failed`).
    `truncation` records what was cut from the input (see serialize.py);
    `tokens` is the length of the input the model read (0 when not scored).
    """
    candidate_id: str
    example_id: str
    score: Optional[float]
    truncation: str
    tokens: int
    scorer: str
    error: Optional[str] = None


def as_score_request(element: Any) -> ScoreRequest:
    """A `ScoreRequest` from itself or from `{"example": ..., "candidate": ...}`.

    Raises ValueError (`score:bad_request: ...`) for anything else, so a
    malformed element fails alone in preprocessing.
    """
    if isinstance(element, ScoreRequest):
        request = element
    elif isinstance(element, dict) and "example" in element and "candidate" in element:
        request = ScoreRequest(element["example"], element["candidate"])
    else:
        raise ValueError(f"score:bad_request: expected a ScoreRequest or {{'example', 'candidate'}}, "
                         f"got {type(element).__name__}")
    example, candidate = request.example, request.candidate
    if not isinstance(example, dict) or not isinstance(candidate, dict):
        raise ValueError("score:bad_request: example and candidate must be dicts")
    missing = [f"example.{k}" for k in ("example_id", "messages", "tools") if k not in example]
    missing += [f"candidate.{k}" for k in ("candidate_id", "output") if k not in candidate]
    if missing:
        raise ValueError(f"score:bad_request: missing {', '.join(missing)}")
    if not isinstance(example["messages"], list) or not example["messages"]:
        raise ValueError(f"score:bad_request: example {example['example_id']!r} has no messages")
    if not isinstance(example["tools"], list):
        raise ValueError(f"score:bad_request: example {example['example_id']!r} tools is not a list")
    return request


def score_requests(requests: Sequence[ScoreRequest], serializer: RewardSerializer, scorer: str,
                   score_token_ids: Callable[[list[list[int]], list[str]], list[float]]) -> list[ScoreResult]:
    """Serialize `requests`, score the scorable ones, and answer in the requests' order.

    `score_token_ids` gets the token sequences in request order, with the
    example id of each (rows of one example may share their prefix), and must
    answer in that order; it may reorder internally.
    """
    prepared: list[Serialized | None] = []
    errors: list[str | None] = []
    for request in requests:
        try:
            serialized = serializer.serialize(request.example, request.candidate["output"])
        except Exception as error:  # one row's bad content must not fail the batch
            _LOG.warning("cannot serialize candidate %s: %s", request.candidate.get("candidate_id"), error)
            prepared.append(None)
            errors.append(f"score:serialize_failed: {type(error).__name__}: {error}")
            continue
        prepared.append(serialized)
        errors.append(f"score:{CANDIDATE_TOO_LONG}" if serialized.skipped else None)
    live = [i for i, s in enumerate(prepared) if s is not None and not s.skipped]
    # Rows of one example may share their prefix, where the template put the candidate last.
    keys = [requests[i].example["example_id"] if prepared[i].candidate_last else None for i in live]
    scores = score_token_ids([prepared[i].input_ids for i in live], keys) if live else []
    if len(scores) != len(live):
        raise RuntimeError(f"the model returned {len(scores)} scores for {len(live)} inputs")
    by_position: list[float | None] = [None] * len(requests)
    for position, value in zip(live, scores):
        by_position[position] = float(value)
    results = []
    for request, serialized, score, error in zip(requests, prepared, by_position, errors):
        results.append(ScoreResult(
            candidate_id=request.candidate["candidate_id"], example_id=request.example["example_id"],
            score=score, truncation=serialized.truncation if serialized else "",
            tokens=len(serialized.input_ids) if serialized else 0, scorer=scorer, error=error))
    return results


# --- the loaded model ------------------------------------------------------------------

def pad_token_id_for(config: Any, tokenizer: Any) -> int:
    """The id to pad with: the one the model's pooling skips (config first, then tokenizer pad, then eos)."""
    for value in (getattr(config, "pad_token_id", None), tokenizer.pad_token_id, tokenizer.eos_token_id):
        if isinstance(value, (list, tuple)):
            value = value[0] if value else None
        if value is not None:
            return int(value)
    raise ValueError("the model has no pad_token_id and the tokenizer neither a pad nor an eos token: "
                     "set one in config.json")


class RewardScorer:
    """A loaded reward model, its serializer and batching settings: what RunInference holds.

    Scoring is a method, not attribute access by the handler, so the object
    also works behind Beam's multi-process proxy.
    """

    def __init__(self, model: Any, serializer: RewardSerializer, device: str, name: str, pad_token_id: int,
                 max_batch_tokens: int, max_rows_per_forward: int | None = None, prefix_sharing: bool = True,
                 min_shared_prefix: int = MIN_SHARED_PREFIX):
        self.model = model
        self.serializer = serializer
        self.device = device
        self.name = name
        self.pad_token_id = pad_token_id
        self.max_batch_tokens = max_batch_tokens
        self.max_rows_per_forward = max_rows_per_forward
        self.prefix_sharing = prefix_sharing
        self.min_shared_prefix = min_shared_prefix

    def score(self, requests: Sequence[ScoreRequest]) -> list[ScoreResult]:
        return score_requests(list(requests), self.serializer, self.name, self.score_token_ids)

    def score_token_ids(self, rows: Sequence[Sequence[int]], keys: Sequence[str | None] | None = None) -> list[float]:
        """Scores of token sequences, in their order.

        With `keys` (each row's example) and prefix sharing on, rows of one
        example share a prefix pass (`score_prefix_shared`); the rest are
        scored whole (`score_full`).
        """
        if keys is None or not self.prefix_sharing:
            return self.score_full(rows)
        return self.score_prefix_shared(rows, keys)

    def score_prefix_shared(self, rows: Sequence[Sequence[int]], keys: Sequence[str | None]) -> list[float]:
        """Scores with each example's shared prefix run once (see prefix_sharing.py); same scores as `score_full`."""
        groups, whole = shared_prefix_groups(rows, keys, self.min_shared_prefix)
        shared = score_shared_prefixes(self.model, rows, groups, pad_token_id=self.pad_token_id, device=self.device,
                                       max_batch_tokens=self.max_batch_tokens,
                                       max_rows=self.max_rows_per_forward) if groups else {}
        if shared is None:  # a cache this model keeps in another form: every row whole
            shared, whole = {}, list(range(len(rows)))
        scores: list[float | None] = [shared.get(i) for i in range(len(rows))]
        for index, value in zip(whole, self.score_full([rows[i] for i in whole]) if whole else []):
            scores[index] = value
        return scores  # type: ignore[return-value]

    def score_full(self, rows: Sequence[Sequence[int]]) -> list[float]:
        """Scores of whole token sequences, in their order, computed in length-sorted token-budget micro-batches."""
        scores: list[float | None] = [None] * len(rows)
        batches = token_budget_batches([len(r) for r in rows], self.max_batch_tokens, self.max_rows_per_forward)
        for batch in batches:
            for index, value in zip(batch, self.forward([rows[i] for i in batch])):
                scores[index] = value
        return scores  # type: ignore[return-value]

    def forward(self, rows: Sequence[Sequence[int]]) -> list[float]:
        """One forward pass over `rows`, right-padded to the longest of them."""
        import torch

        width = max(len(r) for r in rows)
        input_ids = torch.full((len(rows), width), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            input_ids[i, :len(row)] = torch.as_tensor(list(row), dtype=torch.long)
            attention_mask[i, :len(row)] = 1
        with torch.inference_mode():
            logits = self.model(input_ids=input_ids.to(self.device), attention_mask=attention_mask.to(self.device),
                                use_cache=False).logits
        return logits[:, 0].float().cpu().tolist()


# --- the handler -------------------------------------------------------------------

class TransformersRewardHandler(ModelHandler[ScoreRequest, ScoreResult, RewardScorer]):
    """Scores `ScoreRequest`s (or `{"example", "candidate"}` dicts) with a one-logit classifier.

    Args:
      model_path: local directory or Beam FileSystems URL (`gs://bucket/rm`),
        copied once per machine to `cache_dir`.
      model_name: written on results as `scorer` (default: the last path part).
      device: "cpu", "cuda" or "cuda:N".
      dtype: "auto" (bfloat16 on GPU, float32 on CPU) or an explicit dtype.
      max_length: most tokens in one input; longer ones are truncated
        without cutting the candidate (serialize.py).
      max_batch_tokens: padded tokens (longest row x rows) in one forward
        pass; bounds activation memory, so size it to the GPU.
      max_rows_per_forward: optional cap on rows in one forward pass.
      use_chat_template / tool_call_arguments / chat_template_kwargs: see
        `RewardSerializer`.
      attn_implementation: passed to `from_pretrained` ("sdpa",
        "flash_attention_2", ...); default: transformers' choice.
      share_across_processes: one model per machine shared by the worker's
        processes (or `model_copies` of them) instead of one per process. Right
        for GPUs; on CPU workers with several processes, False lets each
        process score in parallel with its own copy.
      validate_elements: check each element in a preprocessing step, so a
        malformed one fails alone (to `failed_preprocessing[0]` with
        exception handling). Beam's `KeyedModelHandler` refuses handlers with
        preprocessing: pass False to wrap this one (malformed elements then
        fail their whole batch).
      min_batch_size / max_batch_size: how many candidates RunInference hands
        over at once; large batches give the length sort room to work.
      prefix_sharing: score an example's candidates over one pass of their
        shared prefix (same scores, much less work on long prompts); False
        scores every sequence whole.
    """

    def __init__(self, model_path: str, *, model_name: str | None = None, device: str = "cpu",
                 dtype: str = "auto", max_length: int = 4096, max_batch_tokens: int = 32768,
                 max_rows_per_forward: int | None = None, use_chat_template: str = "auto",
                 tool_call_arguments: str = "string", chat_template_kwargs: dict | None = None,
                 attn_implementation: str | None = None, allow_hub: bool = False, cache_dir: str | None = None,
                 trust_remote_code: bool = False, share_across_processes: bool = True,
                 validate_elements: bool = True, model_copies: int | None = None, min_batch_size: int | None = 64,
                 max_batch_size: int | None = 512, prefix_sharing: bool = True, **kwargs):
        super().__init__(min_batch_size=min_batch_size, max_batch_size=max_batch_size,
                         model_copies=model_copies, **kwargs)
        check_device_and_dtype(device, dtype)
        if max_length < 1:
            raise ValueError(f"max_length must be positive, got {max_length!r}")
        if max_batch_tokens < max_length:
            raise ValueError(f"max_batch_tokens ({max_batch_tokens}) must be at least max_length ({max_length}): "
                             "one input of max_length tokens must fit in a forward pass")
        if max_rows_per_forward is not None and max_rows_per_forward < 1:
            raise ValueError("max_rows_per_forward must be positive")
        if model_copies is not None and model_copies < 1:
            raise ValueError("model_copies must be >= 1")
        self._model_path = model_path
        self._model_name = model_name or model_path.rstrip("/").rsplit("/", 1)[-1]
        self._device = device
        self._dtype = dtype
        self._max_length = max_length
        self._max_batch_tokens = max_batch_tokens
        self._max_rows = max_rows_per_forward
        self._serializer_kwargs = {"use_chat_template": use_chat_template,
                                   "tool_call_arguments": tool_call_arguments,
                                   "chat_template_kwargs": dict(chat_template_kwargs or {})}
        self._attn_implementation = attn_implementation
        self._allow_hub = allow_hub
        self._cache_dir = cache_dir
        self._trust_remote_code = trust_remote_code
        self._share = share_across_processes
        self._validate_elements = validate_elements
        self._prefix_sharing = prefix_sharing

    @property
    def model_name(self) -> str:
        return self._model_name

    def load_model(self) -> RewardScorer:
        from transformers import AutoModelForSequenceClassification

        extra = {"attn_implementation": self._attn_implementation} if self._attn_implementation else {}
        model, tokenizer, dtype = load_pretrained(
            AutoModelForSequenceClassification, self._model_path, device=self._device, dtype=self._dtype,
            allow_hub=self._allow_hub, cache_dir=self._cache_dir, trust_remote_code=self._trust_remote_code,
            **extra)
        if model.config.num_labels != 1:
            raise ValueError(f"{self._model_name}: a reward model has one logit, this one has "
                             f"num_labels={model.config.num_labels}")
        text_config = model.config.get_text_config()
        pad = pad_token_id_for(text_config, tokenizer)
        if getattr(text_config, "pad_token_id", None) is None:
            _LOG.warning("%s has no pad_token_id; padding with %d (the model pools the last token that is not it)",
                         self._model_name, pad)
            text_config.pad_token_id = pad
            model.config.pad_token_id = pad
        serializer = RewardSerializer(tokenizer, self._max_length, **self._serializer_kwargs)
        _LOG.info("loaded reward model %s on %s (%s, chat template: %s)", self._model_name, self._device, dtype,
                  serializer.uses_template)
        return RewardScorer(model, serializer, self._device, self._model_name, pad, self._max_batch_tokens,
                            self._max_rows, prefix_sharing=self._prefix_sharing)

    def get_preprocess_fns(self):
        # Per element, before batching: a malformed element fails alone.
        return [as_score_request] if self._validate_elements else []

    def run_inference(self, batch: Sequence[Any], model: RewardScorer,
                      inference_args: Optional[dict[str, Any]] = None) -> list[ScoreResult]:
        return model.score([as_score_request(element) for element in batch])

    def validate_inference_args(self, inference_args: Optional[dict[str, Any]]):
        if inference_args:
            raise ValueError("TransformersRewardHandler takes its settings from its constructor, not inference_args")

    def share_model_across_processes(self) -> bool:
        return self._share

    def get_metrics_namespace(self) -> str:
        return "toolrm_reward_transformers"
