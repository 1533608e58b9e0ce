"""Text requests through transformers' continuous-batching manager (the GPU path).

One long-lived manager (``model.init_continuous_batching()``) and one
dispatcher thread that routes every finished result to its future.

Each request keeps its own sampling parameters and seed, whatever shares its
batch. Temperature and top-p go to the manager's per-request logits
processors (``per_request_processors=True``, then ``add_request(temperature=,
top_p=)``). The manager's own sampler draws from one generator shared by the
whole batch, so it cannot honour a seed; ``SeededPick``, appended as the last
processor, picks each row's token itself and leaves that row one finite
score, so the sampler has nothing left to choose. Greedy requests
(temperature 0) get the argmax; sampled ones a Gumbel-max draw whose noise is
a hash of (the request's seed, the token's index in the answer, the token id):
the same distribution as sampling, with no generator state at all.

What stays nondeterministic on a GPU is the logits themselves. Which requests
share a step, how prompts are chunked and padded, and which kernels and CUDA
graphs run change the order of floating-point sums, and bfloat16 keeps about
three significant digits, so two near-equal tokens can swap from one run to
the next and the answers diverge from there. Given its logits every answer is
exact; the logits repeat only when the batches do. (Also: if the manager
evicts a request under memory pressure, its seeded draws may shift by a
token index.)
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from typing import Any

from .decoding import TOP_K, apply_stops
from .jobs import Job, answer, fail
from .requests import Completion, TextRequest

log = logging.getLogger(__name__)

MASK32 = 0xFFFFFFFF
# Defaults the manager needs at creation so that it builds per-request
# temperature/top-p processors at all (a 1.0 would build none); every sampled
# request passes its own values.
DEFAULT_TEMPERATURE, DEFAULT_TOP_P = 0.7, 0.95
# On a CPU the manager would reserve 60% of the machine's RAM for its KV cache
# (seconds to allocate, and shared with everything else); 256 pages of 256
# tokens hold dozens of agent prompts at once. Its default 8,192 tokens per
# step (and 1,024 logit rows) cost gigabytes of logits with a 262k vocabulary.
CPU_SIZING: dict[str, Any] = {"num_blocks": 256, "max_batch_tokens": 1024, "max_requests_per_batch": 32}


def token_key(seed: int, index: int) -> int:
    """A nonzero 31-bit key for the ``index``-th token of a request seeded ``seed`` (0 means greedy)."""
    digest = hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little") & 0x7FFFFFFF or 1


def gumbel_noise(keys: Any, vocab: int) -> Any:
    """Gumbel(0, 1) noise [rows, vocab], a pure function of each row's key and the token id.

    Integer hashing (lowbias32-style rounds) in int64 with 31-bit multipliers,
    so nothing overflows and no generator or host sync is needed: the
    manager may capture this in a CUDA graph.
    """
    import torch

    ids = torch.arange(vocab, device=keys.device, dtype=torch.int64)
    x = (keys.to(torch.int64).unsqueeze(-1) ^ (ids * 0x2C1B3C6D)) & MASK32
    for multiplier in (0x7FEB352D, 0x346CA68B, 0x5BD1E995):
        x = ((x ^ (x >> 16)) * multiplier) & MASK32
    x = x ^ (x >> 15)
    uniform = ((x >> 8).to(torch.float32) + 0.5) / float(1 << 24)  # in (0, 1), never 0 or 1
    return -torch.log(-torch.log(uniform))


class SeededPick:
    """The last continuous-batching logits processor: decides each row's token from its own seed.

    It follows transformers' ``ContinuousBatchingLogitsProcessor`` protocol
    (one int32 argument per row; it is registered as a virtual subclass when
    installed): the argument is ``token_key(seed, index)`` for sampled rows,
    0 for greedy ones.
    """

    supported_kwargs: dict[str, type] = {"seed": int}
    ignored_kwargs: tuple[str, ...] = ()

    def __init__(self) -> None:
        self._index: dict[str, int] = {}  # request id -> tokens drawn so far
        self._lock = threading.Lock()

    def fill_defaults(self, int32_tensor: Any) -> None:
        int32_tensor.fill_(0)

    def prepare_tensor_args(self, requests_with_new_token: list[Any]) -> Any:
        """One key per row that gets a token this step (called once per step, before the forward pass)."""
        import torch

        keys = []
        with self._lock:
            for future in requests_with_new_token:
                seed = future.state.logit_processor_kwargs.get("seed")
                if seed is None:
                    keys.append(0)
                    continue
                index = self._index.get(future.state.request_id, 0)
                self._index[future.state.request_id] = index + 1
                keys.append(token_key(seed, index))
        return torch.tensor(keys, dtype=torch.int32)

    def __call__(self, scores: Any, tensor_arg: Any) -> Any:
        """Scores with one finite entry per row (0 at the chosen token), so any sampler returns it."""
        import torch

        keys = tensor_arg[: scores.size(0)]
        sampled = (keys != 0).unsqueeze(-1)
        noisy = torch.where(sampled, scores + gumbel_noise(keys, scores.size(-1)), scores)
        chosen = noisy.argmax(dim=-1, keepdim=True)
        return torch.full_like(scores, float("-inf")).scatter(-1, chosen, 0.0)

    def forget(self, request_id: str) -> None:
        with self._lock:
            self._index.pop(request_id, None)

    def install(self, manager: Any) -> None:
        """Append to a manager's processors (before ``start()``, which sizes the argument buffers)."""
        from transformers.generation.continuous_batching.cb_logits_processors import (
            ContinuousBatchingLogitsProcessor,
        )

        ContinuousBatchingLogitsProcessor.register(SeededPick)
        processors = manager.logit_processor
        processors.logits_processor.append(self)
        processors.tensors_required += 1
        processors.supported_keys.update(self.supported_kwargs)
        processors.do_processing = True


def sampling_kwargs(request: TextRequest) -> dict[str, Any]:
    """What ``add_request`` gets for ``request``: nothing for greedy (SeededPick takes the argmax)."""
    if request.temperature <= 0:
        return {}
    return {"temperature": float(request.temperature), "top_p": float(request.top_p), "seed": int(request.seed)}


class ContinuousBatcher:
    """Feeds text jobs to a continuous-batching manager started on the first job."""

    def __init__(self, model: Any, tokenizer: Any, eos_ids: set[int]):
        self.model, self.tokenizer, self.eos_ids = model, tokenizer, eos_ids
        self._manager: Any = None
        self._pick = SeededPick()
        self._jobs: dict[str, tuple[Job, float]] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._dispatcher: threading.Thread | None = None

    def add(self, jobs: list[Job]) -> None:
        if self._manager is None:
            self._manager = self._start_manager()
        for job in jobs:
            ids = self.tokenizer(job.request.prompt).input_ids
            request_id = f"r{job.seq}"
            with self._lock:
                self._jobs[request_id] = (job, time.monotonic())
            self._manager.add_request(ids, request_id=request_id, max_new_tokens=job.text.max_tokens,
                                      **sampling_kwargs(job.text))

    def _start_manager(self) -> Any:
        """One manager for every request: per-request processors, SeededPick last, and the dispatcher."""
        from transformers import ContinuousBatchingConfig, GenerationConfig
        from transformers.utils import is_flash_attn_2_available, is_flash_attn_3_available

        config = GenerationConfig(max_new_tokens=256, do_sample=True, temperature=DEFAULT_TEMPERATURE,
                                  top_p=DEFAULT_TOP_P, top_k=TOP_K, eos_token_id=sorted(self.eos_ids),
                                  pad_token_id=self.tokenizer.pad_token_id)
        sizing: dict[str, Any] = CPU_SIZING if self.model.device.type == "cpu" else {}  # GPU: from free memory
        # Flash attention only from an installed package: its hub-kernel fallback needs the internet.
        flash = is_flash_attn_2_available() or is_flash_attn_3_available()
        cb_config = ContinuousBatchingConfig(per_request_processors=True, auto_switch_to_flash=flash, **sizing)
        manager = self.model.init_continuous_batching(generation_config=config, continuous_batching_config=cb_config)
        self._pick.install(manager)
        manager.start()
        self._dispatcher = threading.Thread(target=self._dispatch, args=(manager,), name="agentville-dispatch",
                                            daemon=True)
        self._dispatcher.start()
        return manager

    def close(self) -> None:
        self._closed.set()
        if self._manager is not None:
            with contextlib.suppress(Exception):  # the manager's thread may already be gone
                self._manager.stop(block=True, timeout=10)
        if self._dispatcher is not None:
            self._dispatcher.join(timeout=5)
        self._fail_stranded("the generation worker shut down before answering")

    def _dispatch(self, manager: Any) -> None:
        """Route the manager's finished results to their futures (one reader for all requests)."""
        while not self._closed.is_set():
            try:
                result = manager.get_result(timeout=0.5)
            except Exception:
                log.exception("continuous batching manager failed")
                break
            if result is None:
                if not manager.is_running():
                    break
                continue
            if result.is_finished():
                self._finish(result)
        self._fail_stranded("the continuous batching manager stopped")

    def _finish(self, result: Any) -> None:
        self._pick.forget(result.request_id)
        with self._lock:
            entry = self._jobs.pop(result.request_id, None)
        if entry is None:
            return
        job, started = entry
        if result.error:
            fail(job, result.error)
            return
        tokens = [t for t in result.generated_tokens if t not in self.eos_ids]
        text, _ = apply_stops(self.tokenizer.decode(tokens, skip_special_tokens=True).lstrip(), job.text.stop)
        answer(job, Completion(text, len(result.prompt_ids), len(tokens),
                               info={"queue_wait_s": round(started - job.submitted, 4)}))

    def _fail_stranded(self, reason: str) -> None:
        """Fail what the manager was given and will not answer any more."""
        with self._lock:
            stranded = list(self._jobs.values())
            self._jobs.clear()
        for job, _ in stranded:
            fail(job, reason)
