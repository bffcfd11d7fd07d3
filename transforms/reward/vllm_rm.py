"""RunInference model handler: a reward model served by vLLM's pooling runner (optional).

The same serialization and truncation as the transformers handler (the
checkpoint's own tokenizer does it, here), then vLLM scores the token ids:
`vllm.LLM(model, runner="pooling").encode(prompts, pooling_task="classify")`
with the activation off, so the score is the raw logit as transformers gives
it. vLLM batches and schedules the requests itself.

vLLM's pooling API has moved between releases (older ones take
`task="reward"` and `PoolingParams(activation=False)`); `engine_kwargs`,
`encode_kwargs` and `pooling_kwargs` let a deployment match its version.
vLLM is imported only in `load_model`, so building the handler (and the
tests) needs no vLLM.
"""
from __future__ import annotations

import functools
import logging
from typing import Any, Callable, Optional, Sequence

from toolrm_beam.transforms.run_inference import ModelHandler

from toolrm_beam.transforms.model_files import resolve_model_path
from toolrm_beam.transforms.reward.serialize import RewardSerializer
from toolrm_beam.transforms.reward.transformers_rm import ScoreRequest, ScoreResult, as_score_request, score_requests

_LOG = logging.getLogger(__name__)
VLLM_MISSING = ("vLLM is not installed on this worker: pip install vllm on a CUDA worker "
                "(VLLMRewardHandler runs only on GPU workers; use TransformersRewardHandler elsewhere)")

DEFAULT_ENGINE_KWARGS = {"runner": "pooling"}
DEFAULT_ENCODE_KWARGS = {"pooling_task": "classify", "use_tqdm": False}
DEFAULT_POOLING_KWARGS = {"use_activation": False}


def output_score(output: Any) -> float:
    """The score in one vLLM pooling output: the last value of `outputs.data`.

    Sequence pooling gives one value; token pooling gives one per token, and
    the last token's is the sequence's reward.
    """
    data = output.outputs.data
    if hasattr(data, "reshape"):
        data = data.reshape(-1)
        return float(data[-1])
    while isinstance(data, (list, tuple)):
        data = data[-1]
    return float(data)


class VLLMRewardEngine:
    """What `load_model` returns: a vLLM engine and the serializer for its tokenizer."""

    def __init__(self, llm: Any, serializer: RewardSerializer, name: str,
                 pooling_params: Optional[Callable[[], Any]] = None, encode_kwargs: dict | None = None):
        self.llm = llm
        self.serializer = serializer
        self.name = name
        self.pooling_params = pooling_params
        self.encode_kwargs = dict(DEFAULT_ENCODE_KWARGS if encode_kwargs is None else encode_kwargs)

    def score(self, requests: Sequence[ScoreRequest]) -> list[ScoreResult]:
        return score_requests(list(requests), self.serializer, self.name, self.score_token_ids)

    def score_token_ids(self, rows: Sequence[Sequence[int]], keys: Sequence[str | None] | None = None) -> list[float]:
        # `keys` (each row's example) is not used: vLLM batches and schedules the rows itself.
        prompts = [{"prompt_token_ids": list(row)} for row in rows]
        kwargs = dict(self.encode_kwargs)
        if self.pooling_params is not None:
            kwargs["pooling_params"] = self.pooling_params()
        outputs = self.llm.encode(prompts, **kwargs)
        if len(outputs) != len(prompts):
            raise RuntimeError(f"vLLM returned {len(outputs)} outputs for {len(prompts)} prompts")
        return [output_score(output) for output in outputs]


class VLLMRewardHandler(ModelHandler[ScoreRequest, ScoreResult, VLLMRewardEngine]):
    """Scores `ScoreRequest`s with vLLM's pooling runner on a GPU worker.

    Args:
      model_path: local directory or Beam FileSystems URL.
      model_name: written on results as `scorer`.
      max_length: as for TransformersRewardHandler; also vLLM's max_model_len
        unless engine_kwargs sets one.
      engine_kwargs: extra `vllm.LLM` arguments (default `runner="pooling"`).
      encode_kwargs: `LLM.encode` arguments (default `pooling_task="classify"`).
      pooling_kwargs: `vllm.PoolingParams` arguments (default: activation off,
        so scores are raw logits); None passes no PoolingParams.
      validate_elements: as for TransformersRewardHandler.
      model_copies: engines per worker machine.
    """

    def __init__(self, model_path: str, *, model_name: str | None = None, max_length: int = 4096,
                 engine_kwargs: dict | None = None, encode_kwargs: dict | None = None,
                 pooling_kwargs: dict | None = DEFAULT_POOLING_KWARGS, use_chat_template: str = "auto",
                 tool_call_arguments: str = "string", chat_template_kwargs: dict | None = None,
                 allow_hub: bool = False, cache_dir: str | None = None, validate_elements: bool = True,
                 model_copies: int = 1,
                 min_batch_size: int | None = 64, max_batch_size: int | None = 1024, **kwargs):
        super().__init__(min_batch_size=min_batch_size, max_batch_size=max_batch_size,
                         model_copies=model_copies, large_model=True, **kwargs)
        if model_copies < 1:
            raise ValueError("model_copies must be >= 1")
        if max_length < 1:
            raise ValueError(f"max_length must be positive, got {max_length!r}")
        self._model_path = model_path
        self._model_name = model_name or model_path.rstrip("/").rsplit("/", 1)[-1]
        self._max_length = max_length
        self._engine_kwargs = {**DEFAULT_ENGINE_KWARGS, "max_model_len": max_length, **(engine_kwargs or {})}
        self._encode_kwargs = None if encode_kwargs is None else dict(encode_kwargs)
        self._pooling_kwargs = None if pooling_kwargs is None else dict(pooling_kwargs)
        self._serializer_kwargs = {"use_chat_template": use_chat_template,
                                   "tool_call_arguments": tool_call_arguments,
                                   "chat_template_kwargs": dict(chat_template_kwargs or {})}
        self._allow_hub = allow_hub
        self._cache_dir = cache_dir
        self._validate_elements = validate_elements

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def engine_kwargs(self) -> dict:
        return dict(self._engine_kwargs)

    def load_model(self) -> VLLMRewardEngine:
        try:
            import vllm
        except ImportError as error:
            raise ImportError(VLLM_MISSING) from error
        path = resolve_model_path(self._model_path, allow_hub=self._allow_hub, cache_dir=self._cache_dir)
        llm = vllm.LLM(model=path, **self._engine_kwargs)
        serializer = RewardSerializer(llm.get_tokenizer(), self._max_length, **self._serializer_kwargs)
        pooling_params = None
        if self._pooling_kwargs is not None:
            pooling_params = functools.partial(vllm.PoolingParams, **self._pooling_kwargs)
        _LOG.info("loaded vLLM reward model %s", self._model_name)
        return VLLMRewardEngine(llm, serializer, self._model_name, pooling_params, self._encode_kwargs)

    def get_preprocess_fns(self):
        return [as_score_request] if self._validate_elements else []

    def run_inference(self, batch: Sequence[Any], model: VLLMRewardEngine,
                      inference_args: Optional[dict[str, Any]] = None) -> list[ScoreResult]:
        return model.score([as_score_request(element) for element in batch])

    def validate_inference_args(self, inference_args: Optional[dict[str, Any]]):
        if inference_args:
            raise ValueError("VLLMRewardHandler takes its settings from its constructor, not inference_args")

    def share_model_across_processes(self) -> bool:
        return True

    def get_metrics_namespace(self) -> str:
        return "toolrm_reward_vllm"
