"""Answers in a shape, in-process: each step's tokens masked to those a request's shape still allows.

A text request may carry a ``shape``: a regular expression its whole answer
must match (``agents/llm/shapes.py`` writes them). The CPU decode loop asks a
``Shaped`` row for the tokens allowed next, masks the others out before it
samples (so top-k and top-p choose among allowed tokens only), feeds it each
token sampled, and ends the row when the shape is complete. llguidance
(Microsoft's guidance-ai) computes each mask on the fly from the regex and a
token trie: about 1 ms a shaped row and step for Gemma's 262k-token
vocabulary on this CPU (``ASCII_SLICES``), 0.3 ms more to apply it.

The trie is built once per backend, in a background thread started when the
model loads. llguidance's own ``hf.from_tokenizer`` took 12-43 s for Gemma
here and holds the GIL all along (the run's Python threads stall); reading
each token's bytes from the vocabulary ourselves (``token_bytes``, about
1.5 s, in Python) and handing them to ``LLTokenizer`` (outside the GIL)
takes 3-4 s in all. The trie cannot be saved to disk: it is rebuilt at each
start. A tokenizer whose decoder is none of the three kinds read here falls
back on ``hf.from_tokenizer``.

A WordPiece vocabulary (the random-weight models') has no token for a space or
a line break: under a shape its first two unused tokens stand for them, and a
shaped answer is read by this table, so such a model can write any shape.
"""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any

import numpy

from .jobs import Job, fail

BYTE_PIECE = re.compile(r"<0x([0-9A-Fa-f]{2})>")
WORDPIECE_SPACES = {"[unused0]": b" ", "[unused1]": b"\n"}
# Token sets llguidance precomputes, beside its own (JSON-string text): runs of printable ASCII, the free
# text of every shape in agents/llm/shapes.py. Measured on Gemma: 0.9 ms a masked token instead of 2.6.
ASCII_SLICES = [r"[ -~]{1,10}", r"[ -~]{1,30}"]


def token_bytes(tokenizer: Any) -> list[bytes] | None:
    """Each token id's bytes as the model writes them, or None for a decoder not read here.

    Three decoders cover the models Agentville loads: SentencePiece with byte
    fallback (Gemma, Llama 2: ``▁`` is a space, ``<0x0A>`` a byte), byte-level
    BPE (GPT-2, Qwen, Llama 3) and WordPiece (see the module's docstring).
    """
    decoder = json.loads(tokenizer.backend_tokenizer.decoder.__getstate__())
    kind = json.dumps(decoder, ensure_ascii=False)
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    if decoder.get("type") == "WordPiece":
        return [WORDPIECE_SPACES.get(p) or (p[2:] if p.startswith("##") else p).encode() for p in pieces]
    if '"ByteLevel"' in kind:
        byte_of = byte_level_alphabet()
        return [bytes(byte_of.get(c, 0) for c in p) for p in pieces]
    if "\u2581" in kind and "ByteFallback" in kind:
        return [bytes([int(m[1], 16)]) if (m := BYTE_PIECE.fullmatch(p)) else p.replace("\u2581", " ").encode()
                for p in pieces]
    return None


def byte_level_alphabet() -> dict[str, int]:
    """GPT-2's byte-level alphabet: the character a byte-level BPE vocabulary writes for each byte."""
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    hidden = [b for b in range(256) if b not in printable]  # written as the characters from U+0100 on
    return {chr(b): b for b in printable} | {chr(256 + i): b for i, b in enumerate(hidden)}


class _Vocabulary:
    """What ``llguidance.TokenizerWrapper`` reads: the tokens' bytes, the special ones, and an encoder.

    llguidance encodes the text a shape forces (``\n2. ``) to pick its tokens, so
    the encoder must agree with the table: the tokenizer's own, except for
    WordPiece, whose encoder drops white space; that one is encoded greedily,
    longest known piece first.
    """

    def __init__(self, tokenizer: Any, tokens: list[bytes], eos: int, greedy: bool):
        self.tokenizer, self.tokens, self.eos_token_id, self.bos_token_id = tokenizer, tokens, eos, None
        # as llguidance's own reading has them: the special ones, and added markup such as <table> (not "\n")
        self.special_token_ids = sorted(set(tokenizer.all_special_ids) | {
            i for i, added in tokenizer.added_tokens_decoder.items()
            if added.special or (added.content.startswith("<") and added.content.endswith(">"))})
        special = set(self.special_token_ids)
        self._ids = {piece: i for i, piece in enumerate(tokens) if i not in special} if greedy else None
        self._longest = max(map(len, tokens)) if greedy else 0

    def __call__(self, text: str) -> list[int]:
        if self._ids is None:
            return self.tokenizer.encode(text, add_special_tokens=False)
        data, ids, at = text.encode(), [], 0
        while at < len(data):
            size = next((n for n in range(min(self._longest, len(data) - at), 0, -1)
                         if data[at:at + n] in self._ids), 0)
            if size == 0:  # a byte no token writes: the unknown token (special, so never allowed)
                ids.append(self.tokenizer.unk_token_id)
                at += 1
                continue
            ids.append(self._ids[data[at:at + size]])
            at += size
        return ids


class Grammars:
    """One model's llguidance tokenizer (built in the background) and the shaped rows made with it."""

    def __init__(self, tokenizer: Any, eos_ids: set[int]):
        self.tokenizer, self.eos_ids = tokenizer, sorted(eos_ids)
        self.built_s: float | None = None
        self._ready = threading.Event()
        self._llg: Any = None
        self._table: list[bytes] | None = None
        self._specials = numpy.zeros(0, dtype=int)  # never written under a shape (llguidance may force one)
        self._error: Exception | None = None
        threading.Thread(target=self._build, name="agentville-grammar", daemon=True).start()

    def _build(self) -> None:
        started = time.monotonic()
        try:
            import llguidance
            import llguidance.hf

            table = token_bytes(self.tokenizer)
            slices = llguidance.LLTokenizer.general_slices() + ASCII_SLICES
            if table is None:
                self._llg = llguidance.hf.from_tokenizer(self.tokenizer, eos_token=self.eos_ids, slices=slices)
            else:
                greedy = json.loads(self.tokenizer.backend_tokenizer.decoder.__getstate__())["type"] == "WordPiece"
                vocabulary = _Vocabulary(self.tokenizer, table, self.eos_ids[0], greedy)
                self._llg = llguidance.LLTokenizer(llguidance.TokenizerWrapper(vocabulary), eos_token=self.eos_ids,
                                                   slices=slices)
            self._table = table
            self._specials = numpy.array([i for i in range(self._llg.vocab_size)
                                          if self._llg.is_special_token(i) and i not in self.eos_ids], dtype=int)
        except Exception as exc:  # reported to each shaped request (its fallback is logged), never lost
            self._error = exc
        self.built_s = time.monotonic() - started
        self._ready.set()

    def rows(self, jobs: list[Job]) -> list[Shaped | None]:
        """A shaped row for each job with a shape (None without one), waiting for the tokenizer the first time.

        A job whose shape cannot be used fails alone: its row allows nothing, so
        it ends at once and its batch-mates go on.
        """
        rows: list[Shaped | None] = []
        for job in jobs:
            shape = job.text.shape
            try:
                rows.append(None if shape is None else self.row(shape))
            except ValueError as exc:
                fail(job, str(exc))
                rows.append(Shaped(None, self._llg, self._table, self._specials))
        return rows

    def row(self, shape: str) -> Shaped:
        """A fresh matcher for one answer of ``shape``; ValueError when it cannot be had."""
        import llguidance

        self._ready.wait()
        if self._error is not None:
            raise ValueError(f"shaped generation is unavailable: {self._error}")
        try:
            matcher = llguidance.LLMatcher(self._llg, llguidance.LLMatcher.grammar_from_regex(shape), log_level=0)
        except Exception as exc:  # an invalid regex (llguidance raises for some, flags others)
            raise ValueError(f"a request's shape is not a usable regex: {exc}") from None
        if matcher.is_error():
            raise ValueError(f"a request's shape is not a usable regex: {matcher.get_error()}")
        return Shaped(matcher, self._llg, self._table, self._specials)


class Shaped:
    """One answer being generated under a shape: its matcher, and how its tokens read."""

    def __init__(self, matcher: Any, llg: Any, table: list[bytes] | None, specials: numpy.ndarray):
        self.matcher, self.llg, self.table = matcher, llg, table  # no matcher: a failed job's row, allowing nothing
        self.specials = specials

    def allowed(self, vocab: int) -> Any:
        """A bool tensor [vocab]: the tokens the shape allows next (EOS only where it may end)."""
        import torch

        allowed = torch.zeros(vocab, dtype=torch.bool)
        if self.matcher is None:
            return allowed
        words = numpy.zeros((self.llg.vocab_size + 31) // 32, dtype=numpy.int32)  # one bit a token
        self.matcher.unsafe_compute_mask_ptr(words.ctypes.data, words.nbytes)  # llguidance.torch's fill, sans torch
        bits = numpy.unpackbits(words.view(numpy.uint8), bitorder="little")[:vocab]
        bits[self.specials[self.specials < len(bits)]] = 0
        allowed[: len(bits)] = torch.from_numpy(bits.astype(bool))
        return allowed

    def take(self, token: int) -> bool:
        """Feed the sampled token; False when nothing may follow it (the shape is complete, or broken)."""
        return self.matcher.consume_token(token) and not self.matcher.is_stopped()

    def text(self, tokens: list[int]) -> str:
        """The answer so far, read by the shape's token table (a WordPiece one has spaces of its own)."""
        raw = b"".join(self.table[t] for t in tokens) if self.table is not None else self.llg.decode_bytes(tokens)
        return raw.decode("utf-8", errors="replace")


def mask(scores: Any, shapes: list[Shaped | None]) -> tuple[Any, set[int]]:
    """``scores`` [rows, vocab] with each shaped row's disallowed tokens at -inf, and the rows allowing none.

    Unshaped rows are left exactly as they are. A row that allows nothing (its
    tokenizer cannot write what the shape needs next) keeps its scores and is
    reported, so the caller ends it instead of sampling from nothing.
    """
    if not any(shapes):
        return scores, set()
    scores = scores.clone()
    stuck = set()
    for row, shape in enumerate(shapes):
        if shape is None:
            continue
        allowed = shape.allowed(scores.shape[-1])
        if not bool(allowed.any()):
            stuck.add(row)
            continue
        scores[row].masked_fill_(~allowed, float("-inf"))
    return scores, stuck
