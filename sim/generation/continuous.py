"""Text requests through transformers' continuous-batching manager (the GPU path).

One long-lived manager (``model.init_continuous_batching()``) and one
dispatcher thread that routes every finished result to its future.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

from .decoding import TOP_K, apply_stops
from .jobs import Job, answer, fail
from .requests import Completion

log = logging.getLogger(__name__)


class ContinuousBatcher:
    """Feeds text jobs to a continuous-batching manager started on the first job."""

    def __init__(self, model: Any, tokenizer: Any, eos_ids: set[int]):
        self.model, self.tokenizer, self.eos_ids = model, tokenizer, eos_ids
        self._manager: Any = None
        self._jobs: dict[str, tuple[Job, float]] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._dispatcher: threading.Thread | None = None

    def add(self, jobs: list[Job]) -> None:
        from transformers import GenerationConfig

        if self._manager is None:
            request = jobs[0].text
            config = GenerationConfig(max_new_tokens=256, do_sample=request.temperature > 0,
                                      temperature=request.temperature or None, top_p=request.top_p, top_k=TOP_K,
                                      eos_token_id=sorted(self.eos_ids), pad_token_id=self.tokenizer.pad_token_id)
            self._manager = self.model.init_continuous_batching(generation_config=config)
            self._manager.start()
            self._dispatcher = threading.Thread(target=self._dispatch, name="agentville-dispatch", daemon=True)
            self._dispatcher.start()
        for job in jobs:
            ids = self.tokenizer(job.request.prompt).input_ids
            request_id = f"r{job.seq}"
            with self._lock:
                self._jobs[request_id] = (job, time.monotonic())
            self._manager.add_request(ids, request_id=request_id, max_new_tokens=job.text.max_tokens)

    def close(self) -> None:
        self._closed.set()
        if self._manager is not None:
            with contextlib.suppress(Exception):  # the manager's thread may already be gone
                self._manager.stop(block=True, timeout=10)
        if self._dispatcher is not None:
            self._dispatcher.join(timeout=5)
        self._fail_stranded("the generation worker shut down before answering")

    def _dispatch(self) -> None:
        """Route the manager's finished results to their futures (one reader for all requests)."""
        while not self._closed.is_set():
            try:
                result = self._manager.get_result(timeout=0.5)
            except Exception:
                log.exception("continuous batching manager failed")
                break
            if result is None:
                if not self._manager.is_running():
                    break
                continue
            if not result.is_finished():
                continue
            with self._lock:
                entry = self._jobs.pop(result.request_id, None)
            if entry is None:
                continue
            job, started = entry
            if result.error:
                fail(job, result.error)
                continue
            tokens = [t for t in result.generated_tokens if t not in self.eos_ids]
            text, _ = apply_stops(self.tokenizer.decode(tokens, skip_special_tokens=True).lstrip(), job.text.stop)
            answer(job, Completion(text, len(result.prompt_ids), len(tokens),
                                   info={"queue_wait_s": round(started - job.submitted, 4)}))
        self._fail_stranded("the continuous batching manager stopped")

    def _fail_stranded(self, reason: str) -> None:
        """Fail what the manager was given and will not answer any more."""
        with self._lock:
            stranded = list(self._jobs.values())
            self._jobs.clear()
        for job, _ in stranded:
            fail(job, reason)
