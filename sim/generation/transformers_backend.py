"""In-process generation with transformers: one worker shared by every agent.

Agents submit requests from the simulation thread; one worker thread owns the
model and answers them in batches. How it batches depends on the device,
because what is fastest differs (measured by ``bench/generation.py``):

* ``batch`` (CPU default): all pending text requests are bucketed by prompt
  length and decoded together in padded micro-batches by a small decode loop
  that samples each row with its own seeded generator (so an answer depends on
  its request, not on its batch-mates) and drops rows as they finish.
* ``continuous`` (GPU default): transformers' continuous-batching manager
  (``continuous.ContinuousBatcher``).

Choice requests never fail to parse: each option's likelihood after the prompt
is scored from one forward pass over the prompt (its KV cache is shared by all
options), and the most likely option is the answer.
"""

from __future__ import annotations

import concurrent.futures
import inspect
import itertools
import logging
import queue
import threading
import time
from typing import Any

from .choices import continuation_ids
from .continuous import ContinuousBatcher
from .decoding import apply_stops, best_split, cache_of, eos_ids, sample, speed_up_output_layer
from .jobs import Job, answer, fail
from .models import ModelSpec, load, resolve
from .requests import ChoiceRequest, Completion, GenerationFailed, Request, TextRequest

log = logging.getLogger(__name__)

GATHER_S = 0.004  # after the first request arrives, wait this long for its siblings


class TransformersBackend:
    """A transformers model behind a batching worker thread."""

    def __init__(self, model: str | None = None, *, device: str = "auto", dtype: str = "auto",
                 strategy: str = "auto", max_batch: int = 32, spec: ModelSpec | None = None,
                 loaded: tuple[Any, Any] | None = None):
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
        self._original_head = speed_up_output_layer(self.model) if self.device.type == "cpu" else None
        self.eos_ids = eos_ids(self.model, self.tokenizer)
        # transformers renamed the KV-cache argument from past_key_values to cache (5.2x).
        self._cache_arg = "cache" if "cache" in inspect.signature(self.model.forward).parameters else "past_key_values"
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._seq = itertools.count()
        self._closed = threading.Event()
        self._continuous = ContinuousBatcher(self.model, self.tokenizer, self.eos_ids)
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
                for job in choices:
                    self._run([job], self._answer_choice)
                if texts and self.strategy == "continuous":
                    for job in texts:
                        self._run([job], self._continuous.add)
                else:
                    for batch in self._buckets(texts):
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
            answer(job, Completion(completion.text, completion.prompt_tokens, completion.output_tokens, info=info))

    def _buckets(self, jobs: list[Job]) -> list[list[Job]]:
        """Split pending text requests into the micro-batches that should finish soonest.

        On a CPU, prefill is compute-bound (padding a 150-token prompt to 600
        costs real time) while a decode step costs nearly the same for 1 or 16
        rows. So the best split balances padding waste against the number of
        separate decode loops: requests sorted by prompt length are cut where a
        small cost model (``split_cost``) says it pays. Oldest batch first.
        """
        if not jobs:
            return []
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
        encoded = self.tokenizer([r.prompt for r in requests], return_tensors="pt", padding=True)
        input_ids = encoded.input_ids.to(self.device)
        attention = encoded.attention_mask.to(self.device)
        prompt_tokens = attention.sum(dim=1).tolist()
        positions = (attention.cumsum(-1) - 1).clamp(min=0)
        generators = [torch.Generator().manual_seed(r.seed) for r in requests]
        temperatures = torch.tensor([max(r.temperature, 0.0) for r in requests])
        top_ps = torch.tensor([r.top_p for r in requests])
        outputs: list[list[int]] = [[] for _ in requests]
        texts = [""] * len(requests)
        live = list(range(len(requests)))  # rows of the current batch -> request index
        output = self.model(input_ids=input_ids, attention_mask=attention, position_ids=positions, use_cache=True,
                            logits_to_keep=1)
        cache = cache_of(output)
        while live:
            logits = output.logits[:, -1, :].float().cpu()
            tokens = sample(logits, temperatures[live], top_ps[live], [generators[i] for i in live])
            keep = []
            for row, index in enumerate(live):
                token = tokens[row]
                request = requests[index]
                finished = token in self.eos_ids
                if not finished:
                    outputs[index].append(token)
                    decoded = self.tokenizer.decode(outputs[index], skip_special_tokens=True).lstrip()
                    texts[index], stopped = apply_stops(decoded, request.stop)
                    finished = stopped or len(outputs[index]) >= request.max_tokens
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
            cache = cache_of(output)
        return [Completion(texts[i], prompt_tokens[i], len(outputs[i])) for i in range(len(requests))]

    # -- choices ------------------------------------------------------------
    def _answer_choice(self, jobs: list[Job]) -> list[Completion]:
        request: ChoiceRequest = jobs[0].request  # type: ignore[assignment]
        scores, prompt_tokens = self.score_options(request.prompt, request.options)
        best = max(range(len(scores)), key=lambda i: (scores[i], -i))
        return [Completion(request.options[best], prompt_tokens, 1,
                           info={"scores": [round(s, 3) for s in scores]})]

    def score_options(self, prompt: str, options: tuple[str, ...]) -> tuple[list[float], int]:
        """Log-likelihood of each option as the continuation of ``prompt``.

        One forward pass over the prompt; its KV cache is repeated for the
        options, which are scored together in a second, short pass.
        """
        import torch

        with torch.inference_mode():
            return self._score_options(prompt, options)

    def _score_options(self, prompt: str, options: tuple[str, ...]) -> tuple[list[float], int]:
        import torch

        prompt_ids = self.tokenizer(prompt).input_ids
        joiner = "" if prompt.endswith((" ", "\n")) else " "
        option_ids = [continuation_ids(self.tokenizer, prompt, prompt_ids, joiner + option) for option in options]
        ids = torch.tensor([prompt_ids], device=self.device)
        output = self.model(input_ids=ids, use_cache=True, logits_to_keep=1)
        first = torch.log_softmax(output.logits[0, -1].float(), dim=-1)
        scores = [float(first[o[0]]) for o in option_ids]
        longer = [i for i, o in enumerate(option_ids) if len(o) > 1]  # e.g. "10" among "1".."10"
        if not longer:
            return scores, len(prompt_ids)
        longest = max(len(option_ids[i]) for i in longer)
        cache = cache_of(output)
        cache.batch_repeat_interleave(len(longer))
        pad = self.tokenizer.pad_token_id
        # inputs predicting tokens 2..n of each multi-token option
        rest = [option_ids[i][:-1] + [pad] * (longest - len(option_ids[i])) for i in longer]
        step = torch.tensor(rest, device=self.device)
        attention = torch.ones(len(longer), len(prompt_ids) + longest - 1, dtype=torch.long, device=self.device)
        positions = torch.arange(len(prompt_ids), len(prompt_ids) + longest - 1, device=self.device)
        output = self.model(input_ids=step, attention_mask=attention,
                            position_ids=positions.unsqueeze(0).expand(len(longer), -1),
                            use_cache=True, **{self._cache_arg: cache})
        logprobs = torch.log_softmax(output.logits.float(), dim=-1)
        for row, i in enumerate(longer):
            for j, token in enumerate(option_ids[i][1:]):
                scores[i] += float(logprobs[row, j, token])
        return scores, len(prompt_ids)

