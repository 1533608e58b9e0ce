"""In-process generation with transformers: one worker shared by every agent.

Agents submit requests from the simulation thread; one worker thread owns the
model and answers them in batches. How it batches depends on the device,
because what is fastest differs (measured by ``bench/generation.py``):

* ``batch`` (CPU default): each prompt is prefilled after the longest prefix
  whose keys and values the worker already holds (``prefix_cache``; prefill is
  most of a request's time on a CPU), then all pending text requests are
  decoded together by a small loop that samples each row with its own seeded
  generator (so an answer depends on its request, not on its batch-mates) and
  drops rows as they finish. Models whose cache cannot be reused get padded
  micro-batches bucketed by prompt length instead.
* ``continuous`` (GPU default): transformers' continuous-batching manager
  (``continuous.ContinuousBatcher``).

A text request with a shape (a regex its answer must match) is decoded by the
loop whatever the device, each step masked to the tokens the shape allows
(``grammar``); the manager's processors cannot take a shape per request.

Choice requests never fail to parse: each prompt is prefilled once (from the
same store), then the options of up to ``choice_batch`` gathered choices run
in one more pass, all options of a prompt in one row over its keys and values
(``choice_scorer``, ``option_pass``); each option is scored as a complete
answer (``scoring``), and the most likely option is the answer.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import inspect
import itertools
import logging
import queue
import threading
import time
from typing import Any

from .choice_scorer import ChoiceScorer
from .continuous import ContinuousBatcher
from .decoding import apply_stops, best_split, cache_of, eos_ids, sample, speed_up_output_layer
from .grammar import Grammars, mask
from .jobs import Job, answer, fail
from .models import ModelSpec, load, resolve
from .prefix_cache import DEFAULT_BUDGET_BYTES, PrefixCache, Snapshot, batch_cache, recording_cache, snapshot, supported
from .requests import ChoiceRequest, Completion, GenerationFailed, Request, TextRequest

log = logging.getLogger(__name__)

GATHER_S = 0.004  # after the first request arrives, wait this long for its siblings
CHOICE_BATCH = 8  # choice requests whose options share one forward (bench/choices.py)


class TransformersBackend:
    """A transformers model behind a batching worker thread."""

    def __init__(self, model: str | None = None, *, device: str = "auto", dtype: str = "auto",
                 strategy: str = "auto", max_batch: int = 32, spec: ModelSpec | None = None,
                 loaded: tuple[Any, Any] | None = None, prefix_cache_bytes: int = DEFAULT_BUDGET_BYTES,
                 choice_batch: int = CHOICE_BATCH, option_layout: str = "shared"):
        self.spec = spec or resolve(model)
        self.model_id = self.spec.model_id
        self.model, self.tokenizer = loaded or load(self.spec, device=device, dtype=dtype)
        self.device = self.model.device
        if strategy == "auto":
            strategy = "continuous" if self.device.type == "cuda" else "batch"
        if strategy not in ("batch", "continuous"):
            raise ValueError(f"unknown batching strategy {strategy!r} (batch or continuous)")
        self.strategy = strategy
        self.max_batch = max_batch
        self.choice_batch = max(1, choice_batch)
        self._original_head = speed_up_output_layer(self.model) if self.device.type == "cpu" else None
        self.eos_ids = eos_ids(self.model, self.tokenizer)
        # transformers renamed the KV-cache argument from past_key_values to cache (5.2x).
        self._cache_arg = "cache" if "cache" in inspect.signature(self.model.forward).parameters else "past_key_values"
        self._prefixes = PrefixCache(prefix_cache_bytes) if prefix_cache_bytes > 0 and supported(self.model) else None
        self._choices = ChoiceScorer(self.model, self.tokenizer, self.eos_ids, self._cache_arg,
                                     self._prefill if self._prefixes is not None else None, option_layout)
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._seq = itertools.count()
        self._closed = threading.Event()
        self._continuous = ContinuousBatcher(self.model, self.tokenizer, self.eos_ids)
        self.grammars = Grammars(self.tokenizer, self.eos_ids)  # built in the background (``grammar``)
        self._worker = threading.Thread(target=self._work, name="agentville-generation", daemon=True)
        self._worker.start()

    # -- public -----------------------------------------------------------
    def submit(self, request: Request) -> concurrent.futures.Future[Completion]:
        future: concurrent.futures.Future[Completion] = concurrent.futures.Future()
        if self._closed.is_set():
            future.set_exception(GenerationFailed("the generation worker is shut down"))
            return future
        self._jobs.put(Job(next(self._seq), request, future, time.monotonic()))
        return future

    def close(self) -> None:
        """Stop the worker (and the manager); pending requests fail instead of hanging."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._jobs.put(None)
        self._worker.join(timeout=30)
        self._continuous.close()
        if self._original_head is not None:
            self.model.set_output_embeddings(self._original_head)
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                fail(job, "the generation worker shut down before answering")

    # -- the worker ---------------------------------------------------------
    def _work(self) -> None:
        import torch

        with torch.inference_mode():
            while not self._closed.is_set():
                jobs = self._gather()
                if jobs is None:
                    break
                choices = [j for j in jobs if isinstance(j.request, ChoiceRequest)]
                texts = [j for j in jobs if isinstance(j.request, TextRequest)]
                for start in range(0, len(choices), self.choice_batch):
                    self._run(choices[start:start + self.choice_batch], self._answer_choices)
                # the manager's processors cannot take a shape per request: shaped ones take the decode loop
                managed = [j for j in texts if j.text.shape is None] if self.strategy == "continuous" else []
                for job in managed:
                    self._run([job], self._continuous.add)
                for batch in self._buckets([j for j in texts if j not in managed]):
                    self._run(batch, self._decode_batch)

    def _gather(self) -> list[Job] | None:
        """Block for one job, then take every job that arrives with it."""
        first = self._jobs.get()
        if first is None:
            return None
        time.sleep(GATHER_S)
        jobs = [first]
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self._closed.set()
                break
            jobs.append(job)
        return sorted(job for job in jobs if not job.future.cancelled())  # abandoned by the asker: not computed

    def _run(self, jobs: list[Job], step: Any) -> None:
        started = time.monotonic()
        try:
            results = step(jobs)
        except Exception as exc:  # a bad request must not kill the worker
            log.exception("generation failed")
            for job in jobs:
                fail(job, f"{type(exc).__name__}: {exc}")
            return
        if results is None:  # handed over to the continuous-batching manager
            return
        for job, completion in zip(jobs, results):
            info = {**completion.info, "queue_wait_s": round(started - job.submitted, 4), "batch_size": len(jobs)}
            answer(job, dataclasses.replace(completion, info=info))

    def _buckets(self, jobs: list[Job]) -> list[list[Job]]:
        """Split pending text requests into the micro-batches that should finish soonest.

        With the prefix store every prompt is prefilled on its own, so there is
        no padding to save: one decode loop per ``max_batch`` requests. Without
        it, prefill is padded and compute-bound (padding a 150-token prompt to
        600 costs real time) while a decode step costs nearly the same for 1 or
        16 rows, so requests sorted by prompt length are cut where a small cost
        model (``decoding.best_split``) says it pays. Oldest batch first.
        """
        if not jobs:
            return []
        if self._prefixes is not None:  # prompts are prefilled one by one: no padding to save
            return [jobs[i:i + self.max_batch] for i in range(0, len(jobs), self.max_batch)]
        lengths = {j.seq: len(self.tokenizer(j.request.prompt).input_ids) for j in jobs}
        ordered = sorted(jobs, key=lambda j: lengths[j.seq])
        cuts = best_split([lengths[j.seq] for j in ordered], [j.text.max_tokens for j in ordered],
                          self.max_batch)
        batches = [ordered[a:b] for a, b in zip([0] + cuts, cuts + [len(ordered)])]
        return sorted(batches, key=lambda b: min(j.seq for j in b))

    # -- text: the CPU decode loop -----------------------------------------
    def _decode_batch(self, jobs: list[Job]) -> list[Completion]:
        import torch

        requests: list[TextRequest] = [j.request for j in jobs]  # type: ignore[misc]
        if self._prefixes is not None:
            logits, cache, attention, positions, prompt_tokens, reused = self._prefill_rows(requests)
        else:
            logits, cache, attention, positions, prompt_tokens, reused = self._prefill_padded(requests)
        shapes = self.grammars.rows(jobs)
        generators = [torch.Generator().manual_seed(r.seed) for r in requests]
        temperatures = torch.tensor([max(r.temperature, 0.0) for r in requests])
        top_ps = torch.tensor([r.top_p for r in requests])
        outputs: list[list[int]] = [[] for _ in requests]
        texts = [""] * len(requests)
        live = list(range(len(requests)))  # rows of the current batch -> request index
        while live:
            scores, stuck = mask(logits.float().cpu(), [shapes[i] for i in live])
            tokens = sample(scores, temperatures[live], top_ps[live], [generators[i] for i in live])
            keep = []
            for row, index in enumerate(live):
                token, request, shape = tokens[row], requests[index], shapes[index]
                finished = token in self.eos_ids or row in stuck
                if not finished:
                    outputs[index].append(token)
                    decoded = (self.tokenizer.decode(outputs[index], skip_special_tokens=True) if shape is None
                               else shape.text(outputs[index])).lstrip()
                    texts[index], stopped = apply_stops(decoded, request.stop)
                    finished = (stopped or len(outputs[index]) >= request.max_tokens
                                or (shape is not None and not shape.take(token)))
                if not finished:
                    keep.append(row)
            if not keep:
                break
            if len(keep) < len(live):
                index_tensor = torch.tensor(keep, device=self.device)
                cache.batch_select_indices(index_tensor)
                attention, positions = attention[index_tensor], positions[index_tensor]
                tokens = [tokens[row] for row in keep]
                live = [live[row] for row in keep]
            step = torch.tensor(tokens, device=self.device).unsqueeze(1)
            attention = torch.cat([attention, torch.ones_like(step)], dim=1)
            positions = positions[:, -1:] + 1
            output = self.model(input_ids=step, attention_mask=attention, position_ids=positions,
                                use_cache=True, **{self._cache_arg: cache})
            cache, logits = cache_of(output), output.logits[:, -1, :]
        return [Completion(texts[i], prompt_tokens[i], len(outputs[i]), info={"prefix_tokens": reused[i]})
                for i in range(len(requests))]

    def _prefill_padded(self, requests: list[TextRequest]) -> tuple[Any, Any, Any, Any, list[int], list[int]]:
        """One padded forward pass over all prompts (models whose cache cannot be reused)."""
        encoded = self.tokenizer([r.prompt for r in requests], return_tensors="pt", padding=True)
        input_ids = encoded.input_ids.to(self.device)
        attention = encoded.attention_mask.to(self.device)
        positions = (attention.cumsum(-1) - 1).clamp(min=0)
        output = self.model(input_ids=input_ids, attention_mask=attention, position_ids=positions, use_cache=True,
                            logits_to_keep=1)
        return (output.logits[:, -1, :], cache_of(output), attention, positions, attention.sum(dim=1).tolist(),
                [0] * len(requests))

    def _prefill_rows(self, requests: list[TextRequest]) -> tuple[Any, Any, Any, Any, list[int], list[int]]:
        """Each prompt after its longest stored prefix, then all side by side as one padded batch."""
        import torch

        rows = [self._prefill(self.tokenizer(r.prompt).input_ids) for r in requests]
        cache, attention = batch_cache(self.model, [snap for _, snap, _ in rows])
        lengths = [snap.length for _, snap, _ in rows]
        positions = torch.tensor(lengths, device=self.device).unsqueeze(1) - 1
        return (torch.stack([logits for logits, _, _ in rows]), cache, attention, positions, lengths,
                [reused for _, _, reused in rows])

    def _prefill(self, ids: list[int]) -> tuple[Any, Snapshot, int]:
        """The next-token logits after ``ids``, their snapshot, and how many tokens came from the store."""
        import torch

        assert self._prefixes is not None
        key = tuple(ids)
        start = self._prefixes.longest(key)
        done = start.length if start is not None else 0
        cache = recording_cache(self.model, start)
        output = self.model(input_ids=torch.tensor([ids[done:]], device=self.device),
                            position_ids=torch.arange(done, len(ids), device=self.device).unsqueeze(0),
                            use_cache=True, logits_to_keep=1, **{self._cache_arg: cache})
        snap = snapshot(cache_of(output), len(ids))
        self._prefixes.put(key, snap)
        return output.logits[0, -1], snap, done

    # -- choices ------------------------------------------------------------
    def _answer_choices(self, jobs: list[Job]) -> list[Completion] | None:
        """Each prompt prefilled on its own, then all their options in one pass (``option_pass``).

        If the shared pass fails, each request is answered alone, so one bad
        request fails only itself.
        """
        try:
            return self._choices.answer([j.request for j in jobs])  # type: ignore[misc]
        except Exception:
            if len(jobs) == 1:
                raise
            log.exception("a batched option pass failed; answering its %d choices one by one", len(jobs))
            for job in jobs:
                self._run([job], self._answer_choices)
            return None

    def score_options(self, prompt: str, options: tuple[str, ...]) -> tuple[list[float], int]:
        """Log-probability of each option being the whole answer after ``prompt`` (see ``scoring``)."""
        import torch

        with torch.inference_mode():
            [(scores, prompt_tokens, _)] = self._choices.score([(prompt, options)])
        return scores, prompt_tokens

    @property
    def prefix_hit_rate(self) -> float | None:
        """Share of prompt tokens whose keys and values were reused (None when reuse is off)."""
        return None if self._prefixes is None else self._prefixes.hit_rate
