"""A request on its way through an in-process worker, and the two ways it ends.

Shared by the CPU decode loop (``transformers_backend``) and the GPU
continuous-batching path (``continuous``): both hand answers to futures an
asker may already have given up on.
"""

from __future__ import annotations

import concurrent.futures
from dataclasses import dataclass, field

from .requests import Completion, GenerationFailed, Request, TextRequest


@dataclass(order=True)
class Job:
    seq: int
    request: Request = field(compare=False)
    future: concurrent.futures.Future = field(compare=False)
    submitted: float = field(compare=False)

    @property
    def text(self) -> TextRequest:
        """The request, known to be a text request on the text paths."""
        assert isinstance(self.request, TextRequest)
        return self.request


def answer(job: Job, completion: Completion) -> None:
    if not job.future.done():  # the asker may have given up on it (cancelled)
        job.future.set_result(completion)


def fail(job: Job, message: str) -> None:
    if not job.future.done():
        job.future.set_exception(GenerationFailed(message))
