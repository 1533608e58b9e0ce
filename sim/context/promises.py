"""What an agent promises the scheduler: until when it stays where it is.

The out-of-order scheduler (``sim/runtime/scheduler.py``) lets an area run
ahead only as far as nobody from elsewhere can arrive, and that depends on
when the people of each area may walk away. Each agent says so here; its
acting code keeps the promises (``agents/acting.py``), the engine reads them,
and ``Town`` refuses a walk that breaks one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Promises:
    """One agent's promises, in simulated seconds (0: none)."""

    stays_until: float = 0.0  # it will not walk away before this unless someone in its area engages it
    alone_until: float = 0.0  # nor before this (its chunk of the day) unless it talks or hears its inner voice
    action_ends: float = 0.0  # when the step it is doing ends (someone waiting for it looks at this)
    chunk_ends: float = 0.0  # when the chunk of the day it is living ends (its steps all happen where it is)
