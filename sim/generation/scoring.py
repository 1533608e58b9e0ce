"""Scoring a choice's options as complete answers.

An in-process model picks the option most likely to be the whole answer.
Summing an option's token log-likelihoods alone is biased: " 10" is " 1"
followed by "0", so it could never beat " 1", and every longer option pays
for its extra tokens. So each option is scored with the probability that the
answer *ends* right after it: the mass of next tokens that do not continue
the last word (a new line, a space, punctuation, the end of sequence), less
the tokens that would carry on into another, longer option ("carry" →
" on" when "carry on" is an option too). Both " 1" and " 10" then pay for
what follows them, and the model's real preference decides.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

_MARKERS = ("▁", "Ġ", "Ċ", "<0x")  # SentencePiece space, byte-level BPE space and newline, byte tokens
END_FLOOR = 1e-9  # an option after which nothing may end still ranks by its own likelihood


def answer_ends(tokenizer: Any, vocab_size: int, eos_ids: set[int]) -> Any:
    """A boolean vector over the vocabulary: tokens that end the answer given before them."""
    import torch

    ends = torch.zeros(vocab_size, dtype=torch.bool)
    tokens = tokenizer.convert_ids_to_tokens(list(range(min(vocab_size, len(tokenizer)))))
    special = set(tokenizer.all_special_ids)
    word_piece = _word_piece(tokenizer)
    for index, token in enumerate(tokens):
        if index in special or not token:
            continue
        if token.startswith("##"):  # WordPiece: glued to the previous token
            continue
        ends[index] = token.startswith(_MARKERS) or not token[0].isalnum() or word_piece
    for index in eos_ids:
        if 0 <= index < vocab_size:
            ends[index] = True
    return ends


def _word_piece(tokenizer: Any) -> bool:
    """WordPiece vocabularies mark continuations ('##'), so every other token starts a new word."""
    return getattr(getattr(tokenizer, "_tokenizer", None), "model", None).__class__.__name__ == "WordPiece"


def option_scores(first: Any, following: Any, option_ids: Sequence[Sequence[int]], ends: Any) -> list[float]:
    """Log-probability of each option being the complete answer.

    ``first``: log-probabilities of the token after the prompt ([vocab]);
    ``following[i, j]``: log-probabilities after the prompt and option ``i``'s
    first ``j + 1`` tokens ([options, longest, vocab]).
    """
    scores = []
    for i, ids in enumerate(option_ids):
        score = float(first[ids[0]]) + sum(float(following[i, j - 1, ids[j]]) for j in range(1, len(ids)))
        after = following[i, len(ids) - 1].exp()
        longer = {other[len(ids)] for other in option_ids  # the next token of a longer option starting with this one
                  if len(other) > len(ids) and list(other[: len(ids)]) == list(ids)}
        mass = float(after[ends].sum()) - sum(float(after[t]) for t in longer if ends[t])
        scores.append(score + math.log(max(mass, END_FLOOR)))
    return scores


def describe(options: Sequence[str], scores: Sequence[float], shown: int = 3) -> str:
    """The best few options with their scores, for the logged ``raw`` of a scored choice."""
    ranked = sorted(range(len(options)), key=lambda i: (-scores[i], i))[:shown]
    return " | ".join(f"{options[i]} {scores[i]:.2f}" for i in ranked)
