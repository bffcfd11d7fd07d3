"""RunInference model handler: a chat model run with plain transformers.

For CPU tests with a tiny local model and for small GPU jobs. The model is a
local directory or a URL Beam's FileSystems can read (`gs://...`), copied to a
local cache once per worker; a Hub id is refused unless `allow_hub=True`, so
no run fetches weights without being told.

Sampling is seeded per sample, not per batch: sample j of a request draws from
its own `torch.Generator` seeded from (request seed, j). Beam forms batches as
it likes, so a per-batch seed would make outputs depend on batching; this way a
request gives the same samples on CPU whatever it is batched with.
"""
from __future__ import annotations

import collections
import json
import logging
from typing import Any, Optional, Sequence

from toolrm_beam.transforms.run_inference import ModelHandler

from toolrm_beam.transforms.llm.requests import GenerationRequest, GenerationResult, strip_reasoning
from toolrm_beam.transforms.model_files import check_device_and_dtype, load_pretrained

_LOG = logging.getLogger(__name__)


# --- the loaded model --------------------------------------------------------

def template_messages(messages: Sequence[dict]) -> list[dict]:
    """OpenAI messages -> what HF chat templates expect: tool-call arguments as objects."""
    result = []
    for message in messages:
        message = dict(message)
        if message.get("tool_calls"):
            calls = []
            for call in message["tool_calls"]:
                call = json.loads(json.dumps(call))
                function = call.get("function", call)
                if isinstance(function.get("arguments"), str):
                    try:
                        function["arguments"] = json.loads(function["arguments"])
                    except ValueError:
                        pass
                calls.append(call)
            message["tool_calls"] = calls
        if message.get("content") is None:
            message["content"] = ""
        result.append(message)
    return result


def sample_seed(request_seed: int, sample_index: int) -> int:
    return (int(request_seed) * 65599 + sample_index) % (2 ** 63 - 1)


class _SeededSampler:
    """Logits processor that samples each row with its own generator.

    It leaves only the drawn token possible, so greedy decoding then picks it.
    Rows with temperature 0 are left alone: they decode greedily.
    """

    def __init__(self, generators: list, temperatures: list[float], top_p: float):
        self.generators = generators
        self.temperatures = temperatures
        self.top_p = top_p

    def __call__(self, input_ids, scores):
        import torch

        result = scores.clone()
        for row, (generator, temperature) in enumerate(zip(self.generators, self.temperatures)):
            if temperature <= 0:
                continue
            probs = torch.softmax(scores[row].float() / temperature, dim=-1)
            if self.top_p < 1.0:
                sorted_probs, order = torch.sort(probs, descending=True)
                keep = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < self.top_p
                filtered = torch.zeros_like(probs)
                filtered[order[keep]] = sorted_probs[keep]
                probs = filtered
            token = torch.multinomial(probs, 1, generator=generator)
            result[row] = float("-inf")
            result[row, token] = 0.0
        return result


class ChatModel:
    """A loaded model and tokenizer; the object RunInference holds.

    Generation is a method (not attribute access by the handler) so that the
    object also works behind Beam's multi-process proxy on GPU.
    """

    def __init__(self, model: Any, tokenizer: Any, device: str, name: str, top_p: float,
                 max_rows_per_generate: int, chat_template_kwargs: dict | None):
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.name = name
        self.top_p = top_p
        self.max_rows_per_generate = max_rows_per_generate
        self.chat_template_kwargs = dict(chat_template_kwargs or {})

    def render(self, request: GenerationRequest) -> str:
        return self.tokenizer.apply_chat_template(
            template_messages(request.messages), tools=list(request.tools) or None,
            add_generation_prompt=True, tokenize=False, **self.chat_template_kwargs)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        outputs: list[list] = [[None] * r.n for r in requests]
        by_length = collections.defaultdict(list)
        for index, request in enumerate(requests):
            by_length[request.max_new_tokens].append(index)
        for max_new_tokens, indexes in by_length.items():
            rows = []  # (request index, sample index, prompt text, temperature)
            for index in indexes:
                prompt = self.render(requests[index])
                rows.extend((index, j, prompt, requests[index].temperature) for j in range(requests[index].n))
            for start in range(0, len(rows), self.max_rows_per_generate):
                chunk = rows[start:start + self.max_rows_per_generate]
                texts = self._generate_rows(chunk, requests, max_new_tokens)
                for (index, j, _, _), text in zip(chunk, texts):
                    outputs[index][j] = strip_reasoning(text)
        return [GenerationResult.for_request(r, o, self.name) for r, o in zip(requests, outputs)]

    def _generate_rows(self, rows: list, requests: Sequence[GenerationRequest], max_new_tokens: int) -> list[str]:
        import torch
        from transformers import GenerationConfig, LogitsProcessorList

        encoded = self.tokenizer([row[2] for row in rows], return_tensors="pt", padding=True,
                                 add_special_tokens=False).to(self.device)
        generators = []
        for index, j, _, _ in rows:
            generator = torch.Generator(device=self.device)
            generator.manual_seed(sample_seed(requests[index].seed, j))
            generators.append(generator)
        sampler = _SeededSampler(generators, [row[3] for row in rows], self.top_p)
        eos = self.model.generation_config.eos_token_id
        if eos is None:
            eos = self.tokenizer.eos_token_id
        config = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                                  pad_token_id=self.tokenizer.pad_token_id, eos_token_id=eos)
        with torch.inference_mode():
            generated = self.model.generate(**encoded, generation_config=config,
                                            logits_processor=LogitsProcessorList([sampler]))
        new_tokens = generated[:, encoded["input_ids"].shape[1]:]
        return self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)


# --- the handler -------------------------------------------------------------

class TransformersChatHandler(ModelHandler[GenerationRequest, GenerationResult, ChatModel]):
    """Generates answers to `GenerationRequest`s with a transformers causal LM.

    Args:
      model_path: local directory or Beam FileSystems URL (`gs://bucket/model`).
      model_name: name written on results and candidate origins (default: the
        last path component).
      device: "cpu", "cuda" or "cuda:N".
      dtype: "auto" (bfloat16 on GPU, float32 on CPU) or an explicit dtype.
      allow_hub: let `model_path` be a Hub id (downloads weights).
      cache_dir: where URLs are copied (default: a folder in the temp dir).
      top_p: nucleus sampling for sampled rows.
      max_rows_per_generate: rows (requests x samples) in one `generate` call.
      chat_template_kwargs: extra template variables (`{"enable_thinking": False}`).
      min_batch_size / max_batch_size / model_copies / large_model: Beam batching
        and sharing settings, passed to the base constructor.
    """

    def __init__(self, model_path: str, *, model_name: str | None = None, device: str = "cpu",
                 dtype: str = "auto", allow_hub: bool = False, cache_dir: str | None = None,
                 top_p: float = 1.0, max_rows_per_generate: int = 64,
                 chat_template_kwargs: dict | None = None, trust_remote_code: bool = False,
                 min_batch_size: int | None = None, max_batch_size: int | None = 8,
                 model_copies: int | None = None, large_model: bool = False, **kwargs):
        super().__init__(min_batch_size=min_batch_size, max_batch_size=max_batch_size,
                         model_copies=model_copies, large_model=large_model, **kwargs)
        check_device_and_dtype(device, dtype)
        if not 0 < top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {top_p!r}")
        if max_rows_per_generate < 1:
            raise ValueError("max_rows_per_generate must be positive")
        self._model_path = model_path
        self._model_name = model_name or model_path.rstrip("/").rsplit("/", 1)[-1]
        self._device = device
        self._dtype = dtype
        self._allow_hub = allow_hub
        self._cache_dir = cache_dir
        self._top_p = top_p
        self._max_rows = max_rows_per_generate
        self._chat_template_kwargs = dict(chat_template_kwargs or {})
        self._trust_remote_code = trust_remote_code

    @property
    def model_name(self) -> str:
        return self._model_name

    def load_model(self) -> ChatModel:
        from transformers import AutoModelForCausalLM

        model, tokenizer, dtype = load_pretrained(
            AutoModelForCausalLM, self._model_path, device=self._device, dtype=self._dtype,
            allow_hub=self._allow_hub, cache_dir=self._cache_dir, trust_remote_code=self._trust_remote_code)
        tokenizer.padding_side = "left"  # decoder-only: new tokens follow the prompt directly
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        _LOG.info("loaded chat model %s on %s (%s)", self._model_name, self._device, dtype)
        return ChatModel(model, tokenizer, self._device, self._model_name, self._top_p, self._max_rows,
                         self._chat_template_kwargs)

    def run_inference(self, batch: Sequence[GenerationRequest], model: ChatModel,
                      inference_args: Optional[dict[str, Any]] = None) -> list[GenerationResult]:
        return model.generate(list(batch))

    def validate_inference_args(self, inference_args: Optional[dict[str, Any]]):
        if inference_args:
            raise ValueError("TransformersChatHandler takes its settings from the requests, not inference_args")

    def share_model_across_processes(self) -> bool:
        # One copy per GPU, not one per worker process.
        return self._device.startswith("cuda") or super().share_model_across_processes()

    def get_metrics_namespace(self) -> str:
        return "toolrm_llm_transformers"
