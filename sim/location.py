"""Where things are: ``Place: area: object``, the one spelling used in scenarios and in the log.

Every location string in a scenario file or an event row has this shape;
``Location.parse`` and ``str(location)`` are the only code that reads or
writes it, so no reader has to re-split strings on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

SEPARATOR = ":"


def split_location(text: str) -> list[str]:
    """``"Hobbs Cafe: cafe: counter"`` -> ``["Hobbs Cafe", "cafe", "counter"]``."""
    return [part.strip() for part in text.split(SEPARATOR)]


@dataclass(frozen=True, order=True)
class Location:
    """Where someone is or is going: a place, an area of it, maybe an object."""

    place: str
    area: str
    object: str | None = None

    def __str__(self) -> str:
        parts = [self.place, self.area] + ([self.object] if self.object else [])
        return f"{SEPARATOR} ".join(parts)

    @property
    def area_key(self) -> tuple[str, str]:
        return (self.place, self.area)

    @classmethod
    def parse(cls, text: str) -> Location:
        """A logged location back into its parts (a place alone has an empty area)."""
        parts = split_location(text)
        return cls(parts[0], parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else None)


def place_of(text: str) -> str:
    """The place of a logged location string (``"Hobbs Cafe: cafe"`` -> ``"Hobbs Cafe"``)."""
    return split_location(text)[0] if text else ""
