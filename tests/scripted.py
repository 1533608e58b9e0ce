"""A backend whose answers a test chooses per purpose, for steering agents into a situation."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable

from agentville.sim.generation import FakeBackend
from agentville.sim.generation.requests import ChoiceRequest, Completion, Request

Answer = str | Callable[[Request], str]


class ScriptedBackend(FakeBackend):
    """Answers ``answers[purpose]`` (a string or a function of the request); otherwise the request's
    default (the agent's own plain answer), or the first option of a choice without one."""

    def __init__(self, answers: dict[str, Answer] | None = None):
        super().__init__()
        self.answers = answers or {}
        self.requests: list[Request] = []

    def answer(self, request: Request) -> Completion:
        self.requests.append(request)
        scripted = self.answers.get(request.purpose)
        if scripted is not None:
            text = scripted(request) if callable(scripted) else scripted
        elif isinstance(request, ChoiceRequest):
            text = request.default if request.default in request.options else request.options[0]
        else:
            text = request.default or "ok"
        return Completion(text, len(request.prompt.split()), len(text.split()))

    def submit(self, request: Request) -> concurrent.futures.Future[Completion]:
        future: concurrent.futures.Future[Completion] = concurrent.futures.Future()
        future.set_result(self.answer(request))
        return future
