"""The town: its static map (``geography``) and who is where doing what (``town``)."""

from .geography import World
from .town import Town

__all__ = ["Town", "World"]
