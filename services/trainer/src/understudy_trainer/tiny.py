"""`tiny-random:<architecture>`: a tiny random causal LM with a locally trained tokenizer.

No weights can be downloaded in tests, yet training and serving must run the real transformers,
PEFT and TRL code paths. The tokenizer is a byte-level BPE trained on the dataset's own text with a
ChatML template that renders tools and tool calls (Hermes format); it is saved beside the adapter.
The weights come from a fixed seed, so `serve` rebuilds exactly the base model the adapter was
trained on from the architecture name and that tokenizer.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
)

from understudy_trainer.errors import TrainerError

PREFIX = "tiny-random:"
ARCHITECTURES = ("llama", "qwen2", "qwen3", "mistral")
VOCAB_SIZE = 512
WEIGHTS_SEED = 0

BOS, EOS, PAD = "<|im_start|>", "<|im_end|>", "<|endoftext|>"
# Plain (non-special) tokens: decoding with skip_special_tokens must keep them for the parser.
MARKUP = (
    "<tool_call>",
    "</tool_call>",
    "<tool_response>",
    "</tool_response>",
    "<tools>",
    "</tools>",
)

CHAT_TEMPLATE = """
{%- if tools %}
{{- '<|im_start|>system\\n' }}
{%- if messages[0].role == 'system' %}{{- (messages[0].content or '') + '\\n\\n' }}{%- endif %}
{{- '# Tools\\n\\nTo call a function, answer with ' }}
{{- '<tool_call>{"name": <name>, "arguments": <object>}</tool_call>.\\n<tools>' }}
{%- for tool in tools %}{{- '\\n' + (tool | tojson) }}{%- endfor %}
{{- '\\n</tools><|im_end|>\\n' }}
{%- elif messages[0].role == 'system' %}
{{- '<|im_start|>system\\n' + (messages[0].content or '') + '<|im_end|>\\n' }}
{%- endif %}
{%- for message in messages %}
{%- if message.role == 'system' and loop.first %}
{%- elif message.role == 'tool' %}
{{- '<|im_start|>tool\\n<tool_response>\\n' + (message.content or '') }}
{{- '\\n</tool_response><|im_end|>\\n' }}
{%- else %}
{{- '<|im_start|>' + message.role + '\\n' + (message.content or '') }}
{%- for call in message.tool_calls or [] %}
{%- set fn = call.function if call.function is defined else call %}
{%- if message.content or not loop.first %}{{- '\\n' }}{%- endif %}
{{- '<tool_call>\\n{"name": ' + (fn.name | tojson) + ', "arguments": ' }}
{%- if fn.arguments is string %}{{- fn.arguments }}
{%- else %}{{- fn.arguments | tojson }}{%- endif %}
{{- '}\\n</tool_call>' }}
{%- endfor %}
{{- '<|im_end|>\\n' }}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}
"""


def is_tiny(base_model: str) -> bool:
    return base_model.startswith(PREFIX)


def architecture(base_model: str) -> str:
    name = base_model.removeprefix(PREFIX)
    if name not in ARCHITECTURES:
        raise TrainerError(
            f"unknown tiny-random architecture {name!r}; use one of {', '.join(ARCHITECTURES)}",
            retryable=False,
        )
    return name


def build_tokenizer(texts: Iterable[str]) -> PreTrainedTokenizerBase:
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.train_from_iterator(
        texts,
        trainers.BpeTrainer(
            vocab_size=VOCAB_SIZE,
            special_tokens=[PAD, BOS, EOS],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    backend.add_tokens([AddedToken(token, special=False, normalized=False) for token in MARKUP])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        chat_template=CHAT_TEMPLATE.strip(),
        model_max_length=4096,
    )


def build_model(base_model: str, tokenizer: PreTrainedTokenizerBase) -> PreTrainedModel:
    config = AutoConfig.for_model(
        architecture(base_model),
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=tokenizer.model_max_length,
        tie_word_embeddings=False,
        # LoRA leaves the output head as initialised: a wider init lets the adapters sharpen its
        # distribution within a few dozen steps (the default 0.02 keeps it near uniform).
        initializer_range=0.1,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    # A private RNG stream: the same weights in every process, whatever the caller seeded.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(WEIGHTS_SEED)
        model: PreTrainedModel = AutoModelForCausalLM.from_config(config)
    model.name_or_path = base_model
    return model
