"""What a command prints is shown on the terminal, never obeyed: control characters in it are written out.

Names, model text, memories, paths and the input an error quotes are data; an
ESC or an OSC in them would clear the screen, write the clipboard or draw a
hyperlink. ``main`` runs every command inside ``escaped_output``, which wraps
stdout and stderr so that everything written through them passes
``controls.escape`` (ESC shows as ``\\x1b``, U+202E as ``\\u202e``): one place,
not one per print. Standard output keeps line breaks and tabs; standard error
also keeps the carriage return and cursor-up that progress bars draw with.
An error line (``say``) keeps nothing, so it stays one line.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Collection, Iterable, Iterator
from typing import Any, TextIO

from agentville.sim.core.controls import LINE_BREAKS, PROGRESS, escape


class EscapingStream:
    """A text stream that writes ``controls.escape(text, keep)`` to the stream it wraps; the rest is the stream's."""

    def __init__(self, stream: TextIO, keep: Collection[str]):
        self._stream, self._keep = stream, keep

    def write(self, text: str) -> int:
        self._stream.write(escape(text, self._keep))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # flush, fileno, isatty, encoding...: tqdm and pandas ask
        return getattr(self._stream, name)


@contextlib.contextmanager
def escaped_output() -> Iterator[None]:
    """Within: ``sys.stdout`` and ``sys.stderr`` escape what they are given; after: the streams as they were."""
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout = EscapingStream(stdout, LINE_BREAKS)
    sys.stderr = EscapingStream(stderr, PROGRESS)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = stdout, stderr


def say(message: object) -> None:
    """One line on stderr, whatever ``message`` quotes: a line break in it is written out too."""
    print(escape(str(message), keep=()), file=sys.stderr)
