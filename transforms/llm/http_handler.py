"""RunInference model handler for any OpenAI-compatible chat server.

vLLM's `vllm serve`, `transformers serve` and hosted endpoints all speak
`POST {base_url}/chat/completions`. A batch's requests go out concurrently
(asyncio + httpx) under a concurrency cap and a client-side rate limit; each
request retries transient failures (timeouts, connection errors, 429, 5xx,
bodies that are not a chat completion) with exponential backoff and jitter,
as Beam's RemoteModelHandler does for whole batches.

Failure is per request: a request that still fails after its retries comes
back as a `GenerationResult` with `error` set, and the other requests of the
batch are unaffected. `raise_on_failure=True` raises `GenerationFailed`
instead, so `RunInference.with_exception_handling()` dead-letters the batch.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import random
import threading
import time
from typing import Any, Optional, Sequence

from toolrm_beam.transforms.run_inference import ModelHandler

from toolrm_beam.transforms.llm.requests import (GenerationRequest, GenerationResult, calls_from_tool_calls,
                                     strip_reasoning)

_LOG = logging.getLogger(__name__)
N_STRATEGIES = ("auto", "api", "repeat")
# Statuses worth retrying: the server may answer next time.
_TRANSIENT_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class GenerationFailed(RuntimeError):
    """A request failed after its retries (raised only with raise_on_failure=True)."""


class _RequestError(Exception):
    def __init__(self, code: str, message: str, transient: bool, retry_after: float | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.transient = transient
        self.retry_after = retry_after
        self.attempts = 1


class _RateLimiter:
    """Spaces request starts at least 1/rate seconds apart, across threads and batches."""

    def __init__(self, requests_per_second: float | None):
        self._interval = 1.0 / requests_per_second if requests_per_second else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Seconds to wait before the caller may start its request."""
        if not self._interval:
            return 0.0
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self._interval
            return slot - now


class HttpChatClient:
    """What `load_model` returns: the endpoint settings, the key and the rate limiter.

    The API key is read from the environment on the worker and never appears
    in repr, logs or errors.
    """

    def __init__(self, base_url: str, model: str, api_key: str | None, requests_per_second: float | None):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._api_key = api_key
        self.rate_limiter = _RateLimiter(requests_per_second)
        self.server_ignores_n = False  # learnt from the first answer with too few choices

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def __repr__(self) -> str:
        return f"HttpChatClient(base_url={self.base_url!r}, model={self.model!r})"


class OpenAICompatibleHandler(ModelHandler[GenerationRequest, GenerationResult, HttpChatClient]):
    """Sends `GenerationRequest`s to an OpenAI-compatible `/chat/completions`.

    Args:
      base_url: the API root, e.g. "http://127.0.0.1:8000/v1".
      model: the `model` field sent to the server.
      model_name: name written on results and candidate origins (default: `model`).
      api_key_env: name of the environment variable holding the API key (the
        key itself is never passed in, pickled or logged).
      max_concurrency: requests in flight at once, per worker thread.
      timeout_s: limit for one attempt of one request, connection to last byte.
      max_retries: retries after the first attempt, for transient failures only.
      backoff_initial_s / backoff_max_s: exponential backoff with full jitter.
      requests_per_second: client-side rate limit (None: none).
      n_strategy: "api" sends `n`; "repeat" sends n one-sample requests with
        seeds seed, seed+1, ...; "auto" sends `n` and tops up with repeats when
        the server returns fewer choices (`transformers serve` ignores `n`).
      extra_body: more fields for every request body (e.g. `top_p`).
      raise_on_failure: raise `GenerationFailed` for the whole batch instead of
        returning per-request errors.
    """

    def __init__(self, base_url: str, model: str, *, model_name: str | None = None,
                 api_key_env: str | None = None, max_concurrency: int = 8, timeout_s: float = 120.0,
                 max_retries: int = 4, backoff_initial_s: float = 1.0, backoff_max_s: float = 30.0,
                 requests_per_second: float | None = None, n_strategy: str = "auto",
                 extra_body: dict | None = None, raise_on_failure: bool = False,
                 min_batch_size: int | None = None, max_batch_size: int | None = 32, **kwargs):
        super().__init__(min_batch_size=min_batch_size, max_batch_size=max_batch_size, **kwargs)
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        if n_strategy not in N_STRATEGIES:
            raise ValueError(f"n_strategy must be one of {N_STRATEGIES}, got {n_strategy!r}")
        if max_concurrency < 1 or timeout_s <= 0 or max_retries < 0:
            raise ValueError("max_concurrency must be >= 1, timeout_s > 0 and max_retries >= 0")
        if requests_per_second is not None and requests_per_second <= 0:
            raise ValueError("requests_per_second must be positive (or None for no limit)")
        self._base_url = base_url
        self._model = model
        self._model_name = model_name or model
        self._api_key_env = api_key_env
        self._max_concurrency = max_concurrency
        self._timeout_s = float(timeout_s)
        self._max_retries = max_retries
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._requests_per_second = requests_per_second
        self._n_strategy = n_strategy
        self._extra_body = dict(extra_body or {})
        self._raise_on_failure = raise_on_failure

    @property
    def model_name(self) -> str:
        return self._model_name

    def load_model(self) -> HttpChatClient:
        api_key = None
        if self._api_key_env:
            api_key = os.environ.get(self._api_key_env)
            if not api_key:
                raise RuntimeError(f"environment variable {self._api_key_env} (the API key) is not set on this worker")
        return HttpChatClient(self._base_url, self._model, api_key, self._requests_per_second)

    def run_inference(self, batch: Sequence[GenerationRequest], model: HttpChatClient,
                      inference_args: Optional[dict[str, Any]] = None) -> list[GenerationResult]:
        results = _run_sync(self._run_batch(list(batch), model))
        if self._raise_on_failure:
            failed = [r for r in results if r.error]
            if failed:
                raise GenerationFailed(f"{len(failed)} of {len(results)} request(s) failed; first: "
                                       f"{failed[0].key}: {failed[0].error}")
        return results

    def validate_inference_args(self, inference_args: Optional[dict[str, Any]]):
        if inference_args:
            raise ValueError("OpenAICompatibleHandler takes its settings from the requests, not inference_args")

    def get_metrics_namespace(self) -> str:
        return "toolrm_llm_http"

    # --- one batch -------------------------------------------------------

    async def _run_batch(self, batch: list[GenerationRequest], client: HttpChatClient) -> list[GenerationResult]:
        import httpx

        semaphore = asyncio.Semaphore(self._max_concurrency)
        limits = httpx.Limits(max_connections=self._max_concurrency)
        timeout = httpx.Timeout(self._timeout_s)
        async with httpx.AsyncClient(timeout=timeout, limits=limits, headers=client.headers()) as http:
            return list(await asyncio.gather(*(self._one_request(http, client, semaphore, r) for r in batch)))

    async def _one_request(self, http, client: HttpChatClient, semaphore, request: GenerationRequest
                           ) -> GenerationResult:
        outputs: list = []
        errors: list[_RequestError] = []
        ask_n = self._n_strategy == "api" or (self._n_strategy == "auto" and not client.server_ignores_n)
        if ask_n or request.n == 1:
            try:
                outputs.extend(await self._with_retries(http, client, semaphore, request, request.n, request.seed))
            except _RequestError as error:
                errors.append(error)
            if not errors and len(outputs) < request.n and self._n_strategy == "auto" and request.n > 1:
                client.server_ignores_n = True
        missing = request.n - len(outputs)
        if missing > 0 and not errors and (self._n_strategy != "api"):
            # One-sample requests for the rest, each with its own seed.
            start = request.n - missing
            tasks = [self._with_retries(http, client, semaphore, request, 1, request.seed + start + i)
                     for i in range(missing)]
            for answer in await asyncio.gather(*tasks, return_exceptions=True):
                if isinstance(answer, _RequestError):
                    errors.append(answer)
                elif isinstance(answer, BaseException):
                    raise answer
                else:
                    outputs.extend(answer[:1])
        if not errors and len(outputs) < request.n:
            errors.append(_RequestError("bad_response", f"server returned {len(outputs)} of {request.n} choices",
                                        transient=False))
        outputs = outputs[:request.n]
        if errors:
            first = errors[0]
            message = (f"{first.message} (after {first.attempts} attempt(s); "
                       f"{len(outputs)} of {request.n} samples arrived)")
            return GenerationResult.for_request(request, outputs, self._model_name, error=message,
                                                error_code=first.code)
        return GenerationResult.for_request(request, outputs, self._model_name)

    async def _with_retries(self, http, client: HttpChatClient, semaphore, request: GenerationRequest,
                            n: int, seed: int) -> list:
        body = self._body(request, n, seed)
        attempt = 0
        while True:
            try:
                async with semaphore:
                    delay = client.rate_limiter.reserve()
                    if delay:
                        await asyncio.sleep(delay)
                    return await asyncio.wait_for(self._post(http, client, body), self._timeout_s)
            except asyncio.TimeoutError:
                failure = _RequestError("timeout", f"no complete answer within {self._timeout_s:g}s",
                                        transient=True)
            except _RequestError as error:
                failure = error
            if not failure.transient or attempt >= self._max_retries:
                failure.attempts = attempt + 1
                raise failure
            # Full jitter: uniform in [0, min(cap, initial * 2^attempt)]; a server's Retry-After wins if longer.
            wait = random.uniform(0, min(self._backoff_max_s, self._backoff_initial_s * 2 ** attempt))
            if failure.retry_after is not None:
                wait = max(wait, min(failure.retry_after, self._backoff_max_s))
            _LOG.warning("request %s: %s; retry %d of %d in %.2fs", request.key, failure.code, attempt + 1,
                         self._max_retries, wait)
            attempt += 1
            await asyncio.sleep(wait)

    def _body(self, request: GenerationRequest, n: int, seed: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self._model,
            "messages": list(request.messages),
            "temperature": request.temperature,
            "max_tokens": request.max_new_tokens,
            "seed": seed,
        }
        if request.tools:
            body["tools"] = list(request.tools)
        if n > 1:
            body["n"] = n
        body.update(self._extra_body)
        return body

    async def _post(self, http, client: HttpChatClient, body: dict) -> list:
        import httpx

        try:
            response = await http.post(f"{client.base_url}/chat/completions", json=body)
        except httpx.TimeoutException as error:
            raise _RequestError("timeout", f"{type(error).__name__}", transient=True) from None
        except httpx.TransportError as error:
            raise _RequestError("connection", f"{type(error).__name__}: {error}"[:300], transient=True) from None
        if response.status_code != 200:
            retry_after = _retry_after(response.headers.get("retry-after"))
            raise _RequestError(
                "http_status", f"HTTP {response.status_code}: {response.text[:300]}",
                transient=response.status_code in _TRANSIENT_STATUS or response.status_code >= 500,
                retry_after=retry_after)
        return parse_choices(response.content)


def parse_choices(content: bytes | str) -> list:
    """A chat completion body -> one output per choice (text, or decoded calls).

    Raises a transient `_RequestError` for anything that is not a chat
    completion: a proxy's HTML page or a truncated body may not recur.
    """
    try:
        data = json.loads(content)
    except ValueError:
        raise _RequestError("bad_response", f"body is not JSON: {_clip(content)}", transient=True) from None
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices:
        raise _RequestError("bad_response", f"no choices in body: {_clip(content)}", transient=True)
    outputs = []
    for choice in sorted(choices, key=lambda c: c.get("index", 0) if isinstance(c, dict) else 0):
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict):
            raise _RequestError("bad_response", f"choice without a message: {_clip(content)}", transient=True)
        if message.get("tool_calls"):
            if not isinstance(message["tool_calls"], list):
                raise _RequestError("bad_response", "tool_calls is not a list", transient=True)
            outputs.append(calls_from_tool_calls(message["tool_calls"]))
        else:
            text = message.get("content")
            if text is not None and not isinstance(text, str):
                raise _RequestError("bad_response", "message content is not text", transient=True)
            outputs.append(strip_reasoning(text or ""))
    return outputs


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _clip(content: bytes | str, limit: int = 200) -> str:
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content)
    return text if len(text) <= limit else text[:limit] + "..."


def _run_sync(coroutine):
    """Run a coroutine to completion from sync code, even inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
