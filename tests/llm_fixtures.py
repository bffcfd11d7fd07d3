"""Shared fixtures of the LLM tests: a tiny local chat model and real examples.

The model is a `Qwen3ForCausalLM` with random weights and a WordLevel
tokenizer trained on a few strings, saved to a temporary directory with a
minimal Jinja chat template that renders tools. Nothing is downloaded.
Import the fixtures into a test module with
`from llm_fixtures import tiny_chat_model, sample_examples  # noqa: F401`
(pytest puts tests/ on sys.path; tests/ is not a package).
"""
from __future__ import annotations

import json
import os
import pathlib
import socket

import pytest

# The LLM extras (not in setup.py's install_requires): skip, naming them, where absent.
LLM_DEPENDENCIES = ("torch", "transformers", "httpx")


def require_llm_dependencies() -> None:
    for name in LLM_DEPENDENCIES:
        pytest.importorskip(name, reason=f"{name} is needed for the LLM tests (pip install torch transformers[serving] httpx)")


REPO = pathlib.Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data" / "samples"

# Renders the tools as JSON in a system turn, then the conversation (with any
# earlier tool calls), then opens the assistant turn.
CHAT_TEMPLATE = (
    "{%- if tools %}<|im_start|>system\n# Tools\n{{ tools | tojson }}<|im_end|>\n{%- endif %}"
    "{%- for message in messages %}<|im_start|>{{ message.role }}\n"
    "{%- if message.content %}{{ message.content }}{%- endif %}"
    "{%- if message.tool_calls %}{%- for call in message.tool_calls %}"
    "<tool_call>{{ (call.function if call.function is defined else call) | tojson }}</tool_call>"
    "{%- endfor %}{%- endif %}<|im_end|>\n{%- endfor %}"
    "{%- if add_generation_prompt %}<|im_start|>assistant\n{%- endif %}"
)

SPECIAL_TOKENS = ["<unk>", "<pad>", "<|im_start|>", "<|im_end|>"]
TRAINING_TEXT = [
    'system user assistant tool # Tools [ ] { } : , " name arguments description parameters type',
    'function object string integer number boolean array properties required',
    '<tool_call> </tool_call> get_user_info user_id special weather city unit celsius Paris 7890',
    "Can you retrieve the details for the user with the ID who has black as their special request ?",
]


def build_tiny_chat_model(directory: str | os.PathLike) -> str:
    """Write a tiny random Qwen3 chat model and its tokenizer to `directory`."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM
    import torch

    raw = Tokenizer(models.WordLevel(unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    raw.train_from_iterator(TRAINING_TEXT, trainers.WordLevelTrainer(special_tokens=SPECIAL_TOKENS))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw, unk_token="<unk>", pad_token="<pad>", eos_token="<|im_end|>",
        bos_token=None, padding_side="left",
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    config = Qwen3Config(
        vocab_size=raw.get_vocab_size(), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=8, max_position_embeddings=2048,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=None,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = Qwen3ForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory)


@pytest.fixture(scope="session")
def tiny_chat_model(tmp_path_factory):
    # Offline while LLM tests run (loads also pass local_files_only); restored afterwards.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        yield build_tiny_chat_model(tmp_path_factory.mktemp("tiny-qwen3-chat"))


def bfcl_examples(count: int = 3, split: str = "live_simple") -> list[dict]:
    """The first `count` canonical examples of a bundled BFCL live sample file."""
    from toolrm_beam.schemas.adapters import get_adapter

    adapter = get_adapter("bfcl")
    path = str(SAMPLES / "bfcl_live_sample" / f"BFCL_v3_{split}.json")
    context = adapter.load_context(path, lambda p: open(p, "rb"))
    examples = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip() and len(examples) < count:
                examples.extend(adapter.adapt(json.loads(line), context, adapter.split_of(path)).examples)
    return examples[:count]


@pytest.fixture(scope="session")
def sample_examples() -> list[dict]:
    return bfcl_examples(3)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- a real OpenAI-compatible server that misbehaves on purpose ----------------

class FaultyChatServer:
    """A loopback `/v1/chat/completions` server whose answers tests script.

    `rules` is a list of (substring, scenario): the first rule whose substring
    occurs in the request body picks the scenario, else `default`. Scenarios:
      ok        200 with `n` choices of `answer` (text) -- honours `n`
      tool      200 with `answer` as OpenAI tool_calls
      slow      sleeps `slow_s` before answering ok (client times out)
      slow_once slow on the first attempt for its body, ok afterwards
      flaky     500 on the first attempt for its body, ok afterwards
      limited   429 with Retry-After: 0 on the first attempt, ok afterwards
      garbage   200 with a body that is not JSON
      nochoices 200 with JSON without choices
      fail      503 always
      bad       400 always (not transient)
    Every request is recorded in `log` as (scenario, body, headers).
    """

    def __init__(self):
        import http.server
        import threading

        self.rules: list[tuple[str, str]] = []
        self.default = "ok"
        self.answer = '[{"name": "get_user_info", "arguments": {"user_id": 7890, "special": "black"}}]'
        self.slow_s = 3.0
        self.log: list[tuple[str, dict, dict]] = []
        self.attempts: dict[str, int] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self.hold_s = 0.0  # every answer waits this long (to observe concurrency)
        self._lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length).decode("utf-8")
                body = json.loads(raw)
                with server._lock:
                    scenario = next((s for sub, s in server.rules if sub in raw), server.default)
                    server.log.append((scenario, body, dict(self.headers)))
                    attempt = server.attempts[raw] = server.attempts.get(raw, 0) + 1
                server._answer(self, scenario, body, attempt)

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self.port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def reset(self):
        with self._lock:
            self.rules, self.default, self.log, self.attempts = [], "ok", [], {}
            self.in_flight, self.max_in_flight, self.hold_s = 0, 0, 0.0
            self.slow_s = 3.0

    def requests_for(self, scenario: str) -> int:
        return sum(1 for s, _, _ in self.log if s == scenario)

    def _answer(self, handler, scenario, body, attempt):
        import time

        if self.hold_s:
            # Counted only while held, before answering: a client cannot have
            # its answer (and so send its next request) while it is counted.
            with self._lock:
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
            time.sleep(self.hold_s)
            with self._lock:
                self.in_flight -= 1
        first = attempt == 1
        if scenario == "slow" or (scenario == "slow_once" and first):
            time.sleep(self.slow_s)
        if scenario == "fail":
            return self._send(handler, 503, b'{"error": "overloaded"}')
        if scenario == "bad":
            return self._send(handler, 400, b'{"error": "bad request"}')
        if scenario == "flaky" and first:
            return self._send(handler, 500, b'{"error": "boom"}')
        if scenario == "limited" and first:
            return self._send(handler, 429, b'{"error": "slow down"}', {"Retry-After": "0"})
        if scenario == "garbage":
            return self._send(handler, 200, b"<html>502 Bad Gateway</html>", content_type="text/html")
        if scenario == "nochoices":
            return self._send(handler, 200, b'{"id": "x", "object": "chat.completion"}')
        n = int(body.get("n", 1))
        if scenario == "tool":
            calls = json.loads(self.answer)
            message = {"role": "assistant", "content": None, "tool_calls": [
                {"id": f"call_{i}", "type": "function",
                 "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])}}
                for i, c in enumerate(calls)]}
        else:
            message = {"role": "assistant", "content": self.answer}
        choices = [{"index": i, "message": message, "finish_reason": "stop"} for i in range(n)]
        payload = {"id": "cmpl", "object": "chat.completion", "model": body.get("model"), "choices": choices}
        return self._send(handler, 200, json.dumps(payload).encode("utf-8"))

    @staticmethod
    def _send(handler, status, data, headers=None, content_type="application/json"):
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                handler.send_header(key, value)
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout tests)

    def close(self):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def faulty_server():
    server = FaultyChatServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def fault(faulty_server):
    """The module's faulty server, with its script and log cleared."""
    faulty_server.reset()
    return faulty_server


# --- `transformers serve` on loopback --------------------------------------------

@pytest.fixture(scope="module")
def transformers_server(tiny_chat_model):
    """`transformers serve <tiny model> --device cpu` as a subprocess; yields its base URL."""
    import subprocess
    import sys
    import time
    import urllib.request

    executable = os.path.join(os.path.dirname(sys.executable), "transformers")
    if not os.path.exists(executable):
        pytest.skip("the transformers CLI is not installed next to this Python")
    port = free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    log = open(os.path.join(tiny_chat_model, f"serve-{port}.log"), "w+")
    process = subprocess.Popen(
        [executable, "serve", tiny_chat_model, "--device", "cpu", "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                log.seek(0)
                pytest.fail(f"transformers serve exited with {process.returncode}:\n{log.read()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base_url}/models", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("transformers serve did not become ready within 90 s")
            time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()
