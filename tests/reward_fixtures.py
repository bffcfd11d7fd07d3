"""Fixtures of the reward-model tests: a tiny local reward model and examples to score.

The model is a `Qwen3ForSequenceClassification` (num_labels=1, random
weights) with a WordLevel tokenizer trained on the test examples' own text
(Bert-style pre-tokenizer: every punctuation mark is a token, so JSON
tokenizes without unknowns) and a minimal Qwen-like chat template that
renders tools and tool calls. Nothing is downloaded.
"""
from __future__ import annotations

import json
import os
from typing import Any, Iterable

from toolrm_beam.schemas.records import candidate_id, make_example, reference_call

CHAT_TEMPLATE = (
    "{%- if tools %}{{ '<|im_start|>system\\n# Tools' }}"
    "{%- for tool in tools %}{{ '\\n' + (tool | tojson) }}{%- endfor %}{{ '<|im_end|>\\n' }}{%- endif %}"
    "{%- for message in messages %}{{ '<|im_start|>' + message.role + '\\n' }}"
    "{%- if message.content %}{{ message.content }}{%- endif %}"
    "{%- for call in message.tool_calls or [] %}"
    "{{ '\\n<tool_call>{\"name\": \"' + call.function.name + '\", \"arguments\": ' }}"
    "{%- if call.function.arguments is string %}{{ call.function.arguments }}"
    "{%- else %}{{ call.function.arguments | tojson }}{%- endif %}{{ '}</tool_call>' }}"
    "{%- endfor %}{{ '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{%- endif %}"
)

SPECIAL_TOKENS = ["<unk>", "<pad>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>"]
TEMPLATE_WORDS = ("system user assistant tool Tools type function name description parameters arguments "
                  "object properties required string integer number boolean array items enum call_0 call_1 "
                  "call_2 call_3 tools")

WORDS = ("weather city unit celsius fahrenheit paris berlin tokyo lisbon oslo today tomorrow forecast "
         "hotel flight book search date nights guests price currency euro dollar convert amount "
         "please what is the in and for a of to me find get show my trip plan with near best cheap "
         "thanks sure here it sunny rainy cold warm degrees").split()


def _sentence(seed: int, length: int) -> str:
    return " ".join(WORDS[(seed * 7 + i * 3) % len(WORDS)] for i in range(length))


def make_tool(name: str, description_words: int = 6, params: int = 2, seed: int = 0) -> dict[str, Any]:
    properties = {f"p{j}_{name}": {"type": "string", "description": _sentence(seed + j, description_words)}
                  for j in range(params)}
    return {"name": name, "description": _sentence(seed, description_words),
            "parameters": {"type": "object", "properties": properties, "required": list(properties)[:1]}}


def make_test_example(index: int, *, tools: int = 3, turns: int = 1, description_words: int = 6,
                      user_words: int = 8) -> dict[str, Any]:
    """A canonical example: `tools` tools, `turns` user turns (earlier ones answered with a call)."""
    tool_list = [make_tool(f"tool_{index}_{t}", description_words, 2, seed=index + t) for t in range(tools)]
    messages: list[dict[str, Any]] = [{"role": "system", "content": "you plan my trip"}]
    for turn in range(turns):
        messages.append({"role": "user", "content": _sentence(index * 5 + turn, user_words)})
        if turn < turns - 1:
            call = {"id": f"call_{turn}", "type": "function",
                    "function": {"name": tool_list[0]["name"], "arguments": json.dumps({"city": "paris"})}}
            messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
            messages.append({"role": "tool", "tool_call_id": f"call_{turn}", "content": "sunny warm"})
            messages.append({"role": "assistant", "content": "it is sunny"})
    first = tool_list[0]
    return make_example(source="rmtest", split="test", upstream_id=str(index), tools=tool_list,
                        original_tools=tool_list, messages=messages,
                        reference=[reference_call(first["name"], {f"p0_{first['name']}": "paris"})])


def make_candidate(example: dict[str, Any], output: Any, origin: str = "reference") -> dict[str, Any]:
    return {"example_id": example["example_id"], "candidate_id": candidate_id(example["example_id"], output),
            "output": output, "origin": origin, "correct": None, "error_type": None, "detail": None,
            "score": None, "scorer": None}


def call_output(example: dict[str, Any], tool: int = 0, value: str = "paris") -> list[dict[str, Any]]:
    name = example["tools"][tool]["name"]
    return [{"name": name, "arguments": {f"p0_{name}": value}}]


def training_texts(examples: Iterable[dict[str, Any]]) -> list[str]:
    texts = [TEMPLATE_WORDS, " ".join(WORDS), "# < > | { } [ ] : , \" _ - . \\ / ( ) 0 1 2 3 4 5 6 7 8 9"]
    for example in examples:
        texts.append(json.dumps(example))
        texts.append(json.dumps({"tools": example["tools"]}))
    return texts


def build_tiny_reward_model(directory: str | os.PathLike, texts: Iterable[str], *, seed: int = 0,
                            chat_template: str | None = CHAT_TEMPLATE, pad_in_config: bool = True) -> str:
    """Write a tiny random Qwen3 reward model (one logit) and its tokenizer to `directory`."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForSequenceClassification

    raw = Tokenizer(models.WordLevel(unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    raw.train_from_iterator(list(texts), trainers.WordLevelTrainer(special_tokens=SPECIAL_TOKENS))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="<unk>", pad_token="<pad>",
                                        eos_token="<|im_end|>", bos_token=None)
    if chat_template:
        tokenizer.chat_template = chat_template
    config = Qwen3Config(
        vocab_size=raw.get_vocab_size(), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=8, max_position_embeddings=4096,
        pad_token_id=tokenizer.pad_token_id if pad_in_config else None, eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None, num_labels=1, tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = Qwen3ForSequenceClassification(config)
    # Random init gives a near-zero score head; widen it so scores differ visibly.
    with torch.no_grad():
        model.score.weight.normal_(0.0, 1.0)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory)
