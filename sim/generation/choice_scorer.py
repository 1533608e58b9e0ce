"""Answering choice requests in-process: each prompt prefilled, then all options scored together.

The worker (``transformers_backend``) hands over the choice requests it has
gathered. Each prompt is prefilled on its own, after its longest stored
prefix (``prefix_cache``); then the options of all of them run in as few
forwards as fit (``option_pass``), and each option is scored as a complete
answer (``scoring``). A model whose cache cannot be snapshotted scores one
prompt at a time, its keys and values copied once per option.

An answer depends on its own request only: batch-mates change the shapes of
the matrix products, so scores move by float rounding (about 1e-6 in float32),
far below the gaps that decide a choice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .choices import continuation_ids
from .decoding import cache_of
from .option_pass import LAYOUTS, Prompted, option_logprobs
from .prefix_cache import Snapshot
from .requests import ChoiceRequest, Completion
from .scoring import answer_ends, describe, option_scores

# (scores, prompt tokens, prompt tokens reused from the store) of one (prompt, options)
Scored = tuple[list[float], int, int]
Prefill = Callable[[list[int]], tuple[Any, Snapshot, int]]


class ChoiceScorer:
    """Scores options after prompts with ``model``; ``prefill`` is the worker's prefix-store prefill, if any."""

    def __init__(self, model: Any, tokenizer: Any, eos_ids: set[int], cache_arg: str, prefill: Prefill | None,
                 layout: str = "shared"):
        if layout not in LAYOUTS:
            raise ValueError(f"unknown option layout {layout!r} ({' or '.join(LAYOUTS)})")
        self.model, self.tokenizer, self.eos_ids = model, tokenizer, eos_ids
        self.cache_arg, self.prefill, self.layout = cache_arg, prefill, layout
        self._ends: Any = None  # which tokens end an answer (scoring.answer_ends), built on first use

    def answer(self, requests: list[ChoiceRequest]) -> list[Completion]:
        """The most likely option of each request, its top scores as the raw answer."""
        completions = []
        scored = self.score([(r.prompt, r.options) for r in requests])
        for request, (scores, prompt_tokens, reused) in zip(requests, scored):
            best = max(range(len(scores)), key=lambda i: (scores[i], -i))
            completions.append(Completion(request.options[best], prompt_tokens, 1,
                                          raw=describe(request.options, scores),
                                          info={"scores": [round(s, 3) for s in scores], "prefix_tokens": reused}))
        return completions

    def score(self, asked: list[tuple[str, tuple[str, ...]]]) -> list[Scored]:
        """Scores of each (prompt, options): prompts prefilled one by one, options run together."""
        import torch

        if self.prefill is None:
            return [self._score_alone(prompt, options) for prompt, options in asked]
        firsts, prompted, counts = [], [], []
        for prompt, options in asked:
            prompt_ids, option_ids = self._ids(prompt, options)
            logits, snap, reused = self.prefill(prompt_ids)
            firsts.append(torch.log_softmax(logits.float(), dim=-1))
            prompted.append(Prompted(snap, option_ids))
            counts.append((len(prompt_ids), reused))
        following = option_logprobs(self.model, self.cache_arg, prompted, self.layout, self._pad_id)
        ends = self._answer_ends(following[0].shape[-1])
        return [(option_scores(first, after, p.options, ends), *count)
                for first, after, p, count in zip(firsts, following, prompted, counts)]

    def _score_alone(self, prompt: str, options: tuple[str, ...]) -> Scored:
        """The whole prompt in one pass, then its options side by side over copies of its cache."""
        import torch

        prompt_ids, option_ids = self._ids(prompt, options)
        device = self.model.device
        output = self.model(input_ids=torch.tensor([prompt_ids], device=device), use_cache=True, logits_to_keep=1)
        cache = cache_of(output)
        cache.batch_repeat_interleave(len(options))
        longest = max(map(len, option_ids))
        step = torch.tensor([o + [self._pad_id] * (longest - len(o)) for o in option_ids], device=device)
        positions = torch.arange(len(prompt_ids), len(prompt_ids) + longest, device=device)
        after = self.model(input_ids=step, position_ids=positions.unsqueeze(0).expand(len(options), -1),
                           use_cache=True, **{self.cache_arg: cache}).logits
        scores = option_scores(torch.log_softmax(output.logits[0, -1].float(), dim=-1),
                               torch.log_softmax(after.float(), dim=-1), option_ids, self._answer_ends(after.shape[-1]))
        return scores, len(prompt_ids), 0

    def _ids(self, prompt: str, options: tuple[str, ...]) -> tuple[list[int], list[list[int]]]:
        """The prompt's token ids, and each option's after it (after a space unless the prompt ends in one)."""
        prompt_ids = self.tokenizer(prompt).input_ids
        joiner = "" if prompt.endswith((" ", "\n")) else " "
        return prompt_ids, [continuation_ids(self.tokenizer, prompt, prompt_ids, joiner + o) for o in options]

    @property
    def _pad_id(self) -> int:
        return self.tokenizer.pad_token_id or 0

    def _answer_ends(self, vocab_size: int) -> Any:
        if self._ends is None:
            self._ends = answer_ends(self.tokenizer, vocab_size, self.eos_ids)
        return self._ends
