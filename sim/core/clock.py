"""Simulated time: seconds since the scenario start, shown as date-times.

The simpy clock counts seconds from the scenario's start; people and logs speak
in date-times. ``Clock`` converts between the two, and ``parse_until`` reads the
CLI's ``--until`` (``+1d``, ``+6h30m``, ``2023-02-14T18:00``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from .errors import UserError

_SPAN = re.compile(r"(\d+(?:\.\d+)?)([dhms])")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
# The end of simulated time: no run goes past it. It stays a year short of the
# calendar's end (datetime.max), as agents plan days after the one they live.
LATEST = dt.datetime(9999, 1, 1)


@dataclass(frozen=True)
class Clock:
    start: dt.datetime

    def at(self, seconds: float) -> dt.datetime:
        """The date-time ``seconds`` after the start."""
        return self.start + dt.timedelta(seconds=seconds)

    def seconds(self, when: dt.datetime) -> float:
        """Seconds from the start to ``when`` (negative if before)."""
        return (when - self.start).total_seconds()


def parse_span(text: str) -> float:
    """``"1d"``, ``"6h30m"``, ``"90m"`` -> seconds."""
    text = text.strip().lower()
    parts = _SPAN.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise UserError(f"cannot read the time span '{text}' (examples: 1d, 6h, 2h30m, 90m)")
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)


def parse_until(text: str, start: dt.datetime, name: str = "--until") -> dt.datetime:
    """``+1d`` (relative to ``start``) or an ISO date-time such as ``2023-02-14T18:00``.

    Errors read ``NAME TEXT: what is wrong``; ``name`` is how the user wrote the
    setting (a flag; empty where the caller names the field itself).
    """
    text = text.strip()
    lead = f"{name} {text}" if name else text
    if text.startswith("+"):
        try:
            when = start + dt.timedelta(seconds=parse_span(text[1:]))
        except UserError as exc:
            raise UserError(f"{lead}: {exc}") from None
        except OverflowError:
            raise UserError(f"{lead}: that is past the year 9999") from None
    else:
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            raise UserError(f"{name + ': ' if name else ''}cannot read '{text}' as a time: use +1d, +6h or a "
                            "date-time like 2023-02-14T18:00") from None
        if when.tzinfo is not None:
            when = when.replace(tzinfo=None)
        if when <= start:
            raise UserError(f"{lead}: not after the scenario start ({start:%Y-%m-%dT%H:%M})")
    if when > LATEST:
        raise UserError(f"{lead}: too late; simulated times end at {LATEST:%Y-%m-%dT%H:%M}")
    return when
