"""The secrets this process was given (API keys, credentials in server URLs), and the one redactor for them.

A secret can come back from where it was sent: a server that echoes headers
into an error body or into an answer, a proxy that quotes the request. It must
never reach the event store, a log line or the terminal. Whoever reads a secret
``remember``s it; ``redact`` then replaces it wherever it appears: as it is,
JSON-escaped (``sk\\u002d…``, also once more escaped inside stored JSON) and
percent-encoded (``sk%2D…``), in any mix of the three.

Secrets shorter than ``MIN_CHARS`` are not redacted from data: a three-letter
password would blank that word out of every agent's memories. They are still
never logged, since URLs are logged without their credentials.
"""

from __future__ import annotations

import re
import threading

MIN_CHARS = 8
MARK = "[redacted]"

_lock = threading.Lock()
_known: set[str] = set()
_pattern: re.Pattern[str] | None = None


def remember(secret: str | None) -> None:
    """Redact ``secret`` from everything this process writes from now on."""
    global _pattern
    if not secret or len(secret) < MIN_CHARS or secret in _known:
        return
    with _lock:
        _known.add(secret)
        longest_first = sorted(_known, key=len, reverse=True)
        _pattern = re.compile("|".join(_spelled(s) for s in longest_first))


def redact(text: str) -> str:
    """``text`` with every remembered secret, in any of its spellings, replaced by ``[redacted]``."""
    pattern = _pattern
    if pattern is None or not text:
        return text
    return pattern.sub(MARK, text)


def holds_any() -> bool:
    """Whether any secret is remembered (until one is, redacting costs nothing)."""
    return _pattern is not None


def _spelled(secret: str) -> str:
    """A pattern for each character as itself, as a JSON escape (behind any number of backslashes) or as
    a percent escape."""
    return "".join(_char(char) for char in secret)


def _char(char: str) -> str:
    code = ord(char)
    forms = [re.escape(char)]
    if code < 0x10000:
        forms.append(rf"\\+u(?i:{code:04x})")
    if code < 0x80:
        forms.append(rf"%(?i:{code:02x})")
    if char == "/":
        forms.append(r"\\+/")
    return f"(?:{'|'.join(forms)})"
