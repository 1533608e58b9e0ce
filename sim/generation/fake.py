"""A deterministic, instant backend for tests and engine benchmarks.

It is a test double, never a default: answers depend only on the request
(prompt, options, seed), so runs are reproducible and free. The rules are
simple on purpose: a choice picks an option by hashing the request; a text
request returns the request's ``default`` when it has one (the engine's own
plain answer), else a short line built from the words of the prompt's last line.
An interview is answered as a careful test double would: from the memories
its prompt lists (the one sharing most words with the question), and "I don't
remember" when the prompt lists none, so an agent that recalls more answers more.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import re

from .requests import ChoiceRequest, Completion, Request, Traits

_OPENERS = ("Right now,", "At the moment,", "Currently,", "For now,")
_NOTHING = "- nothing yet"  # how the interview prompt lists no memories


def _digest(request: Request) -> int:
    body = f"{request.prompt}\x1f{getattr(request, 'options', '')}\x1f{request.seed}"
    return int.from_bytes(hashlib.sha256(body.encode()).digest()[:8], "big")


def _first_words(text: str, limit: int) -> tuple[str, int]:
    """``text`` cut after ``limit`` words, its line breaks kept (plans are multi-line)."""
    if len(text) < limit:  # fewer characters than the limit: fewer words too
        return text, len(text.split())
    words = list(re.finditer(r"\S+", text))
    if len(words) <= limit:
        return text, len(words)
    return text[: words[limit - 1].end()], limit


def _telling(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9']+", text.lower()) if len(w) >= 4}


_WHEN = re.compile(r"\b(\d{1,2}):(\d{2})\b")


def _minute(text: str) -> int | None:
    found = _WHEN.search(text)
    return int(found[1]) * 60 + int(found[2]) if found else None


def _from_memories(prompt: str) -> str:
    """The listed memory (``- [Mon 13:43] text`` lines) that best answers the question (the prompt's
    ``Interviewer:`` line): for a question at a time, the one nearest that time; else the one sharing most
    words with it; the first listed (the best recalled) on a tie; "I don't remember." without any."""
    lines = prompt.splitlines()
    memories = [line[2:].strip() for line in lines if line.startswith("- ") and line.strip() != _NOTHING]
    question = next((line for line in reversed(lines) if line.startswith("Interviewer:")), "")
    if not memories:
        return "I don't remember."
    asked, at = _telling(question), _minute(question)

    def fit(memory: str) -> tuple[int, int]:
        when = _minute(memory[:14])  # its time stamp, not times in its text
        near = -abs(when - at) if at is not None and when is not None else 0
        return near, len(asked & _telling(memory))

    best = max(memories, key=fit)  # max keeps the first of equals
    return f"I remember this: {best}"


class FakeBackend:
    model_id = "fake"
    traits = Traits(instant=True, understands=False, embedder="hash")  # its twin: the hashing embedder

    def __init__(self) -> None:
        self.calls = 0

    def answer(self, request: Request) -> Completion:
        self.calls += 1
        pick = _digest(request)
        prompt_tokens = len(request.prompt.split())
        if isinstance(request, ChoiceRequest):
            option = request.options[pick % len(request.options)]
            return Completion(option, prompt_tokens, 1, raw=option)
        if request.purpose == "interview":
            text, words = _first_words(_from_memories(request.prompt), request.max_tokens)
            return Completion(text, prompt_tokens, words)
        if request.default:
            text, words = _first_words(request.default, request.max_tokens)
            return Completion(text, prompt_tokens, words)
        last_line = request.prompt.strip().splitlines()[-1] if request.prompt.strip() else ""
        tail = [w.strip(".,:;!?") for w in last_line.split()][-8:]
        text = f"{_OPENERS[pick % len(_OPENERS)]} {' '.join(tail)}".strip()
        words_out = text.split()[: request.max_tokens]
        return Completion(" ".join(words_out), prompt_tokens, len(words_out))

    def submit(self, request: Request) -> concurrent.futures.Future[Completion]:
        future: concurrent.futures.Future[Completion] = concurrent.futures.Future()
        future.set_result(self.answer(request))
        return future

    def close(self) -> None:
        pass
