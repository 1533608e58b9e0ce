"""Parse failures of the list answers, asked free and under their shapes, and what a shape's mask costs.

The prompts are real ones, taken from a logged run (a fake-backend run logs
the same prompts a model would get): up to N of each list purpose (day plan,
schedule, steps, revision, reflection questions and insights). The model
answers each twice in one batch, as the agents ask (same token limit, stops
and seed), once free and once under the purpose's shape, and each answer goes
through the purpose's parser and the checks that need no agent (a revision's
plan-keeping check does). Then the mask's own cost per token is timed on
the shaped answers' tokens, against a decode step of the batch.

    python bench/shapes.py RUN.db                    # the embedded model, 4 prompts a purpose
    python bench/shapes.py RUN.db --model random:tiny --n 8
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import sys
import time
from collections.abc import Callable
from typing import Any

from agentville.agents.llm import shapes
from agentville.agents.llm.asking import LIST_END, Unparseable, not_copied, whole_lines
from agentville.agents.memory import reflection
from agentville.agents.planning import schedule
from agentville.agents.planning.revision import read_revision
from agentville.sim.generation.requests import TextRequest
from agentville.sim.generation.transformers_backend import TransformersBackend


def _clock(text: str) -> int:
    return int(text[:2]) * 60 + int(text[3:5])


def _statements(prompt: str) -> int:
    block = prompt[prompt.rfind("Statements:"):]
    return len(re.findall(r"^\d+\. ", block, re.M))


def _revision(prompt: str) -> Callable[[str], Any]:
    now, until = re.findall(r"from (\d\d:\d\d) until (\d\d:\d\d), with", prompt)[-1]
    start, end = _clock(now) * 60, (_clock(now) + (_clock(until) - _clock(now)) % 1440) * 60
    return lambda text: read_revision(text, start, _clock(now), start, end, end + 6 * 3600)


def _schedule(prompt: str) -> Callable[[str], Any]:
    first = prompt.rstrip().splitlines()[-1]
    return lambda text: schedule.parse_schedule(text, 0, _clock(first) * 60)


def _checked(parse: Callable[[str], Any], template: str) -> Callable[[str], Any]:
    def both(text: str) -> Any:
        result = parse(text)
        not_copied(template)(result)
        return result
    return both


# purpose: (max tokens, stops, the prompt's opening of the answer, joiner, parser for a prompt, shape for a prompt)
PURPOSES: dict[str, tuple[int, tuple[str, ...], Callable[[str], str], str, Callable, Callable]] = {
    "day_plan": (200, (*LIST_END, "\n9."), lambda p: "1.", "", lambda p: _checked(schedule.parse_strokes, "day_plan"),
                 lambda p: shapes.day_plan(200)),
    "schedule": (240, LIST_END, lambda p: p.rstrip().splitlines()[-1], "\n", _schedule,
                 lambda p: shapes.schedule(240, p.rstrip().splitlines()[-1])),
    "decompose": (128, LIST_END, lambda p: "-", "",
                  lambda p: _checked(lambda t: schedule.parse_steps(t), "decompose"), lambda p: shapes.steps(128)),
    "revise_schedule": (150, LIST_END, lambda p: p.rstrip().splitlines()[-1], " ", _revision,
                        lambda p: shapes.revision(150)),
    "reflection_questions": (72, LIST_END, lambda p: "1.", "", lambda p: reflection.parse_questions,
                             lambda p: shapes.questions(72)),
    "reflection_insights": (160, LIST_END, lambda p: "1.", "",
                            lambda p: lambda t: reflection.parse_insights(t, _statements(p)),
                            lambda p: shapes.insights(_statements(p), 160)),
}


def prompts(db: str, n: int) -> list[tuple[str, str, int]]:
    """(purpose, prompt, seed): the first ``n`` distinct prompts of each list purpose in the run's log."""
    found: list[tuple[str, str, int]] = []
    with sqlite3.connect(db) as connection:
        for purpose in PURPOSES:
            rows = connection.execute("SELECT DISTINCT json_extract(data, '$.prompt'), json_extract(data, '$.seed') "
                                      "FROM events WHERE kind = 'llm_call' AND json_extract(data, '$.purpose') = ? "
                                      "LIMIT ?", (purpose, n)).fetchall()
            found += [(purpose, prompt, seed) for prompt, seed in rows]
    return found


def parses(purpose: str, prompt: str, answer: str) -> str | None:
    """None when the answer reads as ``ask`` would read it, else why not."""
    max_tokens, _, opening, joiner, parser, _ = PURPOSES[purpose]
    text = whole_lines(answer, max_tokens)
    try:
        parser(prompt)(opening(prompt) + joiner + text.lstrip("\n") if joiner else opening(prompt) + text)
    except Unparseable as exc:
        return str(exc)
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db")
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--n", type=int, default=4)
    args = parser.parse_args()
    asked = prompts(args.db, args.n)
    backend = TransformersBackend(args.model, device="cpu")
    built = time.monotonic()
    backend.grammars.row("x")  # waits for the shape tokenizer, built in the background since the model loaded
    requests = [TextRequest(prompt, max_tokens=PURPOSES[p][0], stop=PURPOSES[p][1], seed=seed,
                            shape=PURPOSES[p][5](prompt) if shaped else None)
                for p, prompt, seed in asked for shaped in (False, True)]
    started = time.monotonic()
    futures = [backend.submit(r) for r in requests]
    answers = [f.result(timeout=3600) for f in futures]
    wall = time.monotonic() - started
    print(f"model {backend.model_id}: shape tokenizer built in {backend.grammars.built_s:.1f} s "
          f"(waited {started - built:.1f} s); {len(requests)} answers in {wall:.0f} s")
    print(f"{'purpose':22} {'n':>3} {'free: fail':>11} {'shaped: fail':>13}")
    for purpose in PURPOSES:
        rows = [(i, prompt) for i, (p, prompt, _) in enumerate(asked) if p == purpose]
        free = [parses(purpose, prompt, answers[2 * i].text) for i, prompt in rows]
        shaped = [parses(purpose, prompt, answers[2 * i + 1].text) for i, prompt in rows]
        print(f"{purpose:22} {len(rows):3d} {sum(f is not None for f in free):11d} "
              f"{sum(s is not None for s in shaped):13d}  {'; '.join(s for s in shaped if s)[:90]}")
    mask_cost(backend, [(r, a) for r, a in zip(requests, answers) if r.shape is not None])
    backend.close()
    return 0


def mask_cost(backend: TransformersBackend, shaped: list[tuple[TextRequest, Any]]) -> None:
    """Milliseconds a shaped token costs the mask (compute, apply, feed), replaying the shaped answers' tokens."""
    import torch

    vocab = backend.model.get_output_embeddings().weight.shape[0]
    tokens, total = 0, 0.0
    for request, answer in shaped:
        assert request.shape is not None
        row = backend.grammars.row(request.shape)
        opening = "\n" if request.shape.startswith("\\n") else " "  # what the backend stripped off the answer
        scores = torch.zeros(vocab)
        for token in backend.tokenizer.encode(opening + answer.text, add_special_tokens=False):
            began = time.perf_counter()
            allowed = row.allowed(vocab)
            scores.masked_fill_(~allowed, float("-inf"))
            going = row.take(token)
            total += time.perf_counter() - began
            tokens += 1
            if not going:
                break
    print(f"mask: {1000 * total / max(tokens, 1):.2f} ms a shaped token ({tokens} tokens replayed)")


if __name__ == "__main__":
    sys.exit(main())
