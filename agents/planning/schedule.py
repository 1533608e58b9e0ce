"""Planning: wake-up time, a day plan in broad strokes, an hourly schedule, and
the decomposition of the current hour into 5-15 minute steps.

The reference plans top-down: the day in 5-8 strokes, then an hourly
schedule, then the current hour's block in short steps, decomposed only when
it is reached (plans made far ahead are mostly thrown away by reactions).
The parsers here are strict about shape and lenient about wording; whatever a
model writes, what comes out is a well-formed plan, or ``Unparseable``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from agentville.agents.llm.asking import Unparseable
from agentville.sim.core.activities import is_sleep

STEP_MINUTES = (5, 15)  # shortest and longest decomposed step
CHUNK_MINUTES = 60  # how much of a block is decomposed at a time
DEFAULT_STEP_MINUTES = 10
MAX_ACTIVITY_CHARS = 90

DEFAULT_BEDTIME_MINUTE = 23 * 60
BEDTIME_SLACK_S = 2.5 * 3600  # a bedtime this far from the habit is not one (a nap, or a model's slip)
NAP_S = 2 * 3600  # a premature "sleeping" followed this soon by waking activity is a nap
_REAL_WORD = re.compile(r"[A-Za-z]{3,}")
_ITEM = re.compile(r"^\s*(?:\d+\s*[.)]|[-*•])\s*(.+?)\s*$")
_NUMBER = re.compile(r"^\s*(?:\d+\s*[.)]\s+|[-*•]\s*)")
_TIMED = re.compile(r"^\s*(\d{1,2})[:.](\d{2})\s*(am|pm|a\.m\.|p\.m\.)?\s*"
                    r"(?:(?:-|–|to|until)\s*\d{1,2}[:.]\d{2}\s*(?:am|pm|a\.m\.|p\.m\.)?\s*)?"  # "14:00 to 15:00"
                    r"[-–:,]?\s*(.+?)\s*$", re.I)
_TRAILING_TIME = re.compile(r"^(.+?),?\s+(?:at|from|by|around)\s+(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?"
                            r"(?:\s*(?:until|to|-)\s*.*)?\s*[.,]?\s*$", re.I)
_STEP = re.compile(r"^\s*(?:\d+\s*[.)]|[-*•])?\s*(.+?)\s*(?:[(\[]\s*(\d{1,3})\s*(?:min|minutes?|mins?)\b[^)\]]*[)\]])?"
                   r"\s*[.,;]?\s*$", re.I)


def clean_activity(text: str) -> str:
    """One activity phrase: no surrounding quotes or trailing full stop, bounded length.

    Empty when there is no real word in it ("12:30", "(10 minutes)"), so
    callers drop it. A long one is cut after its last whole clause (or word)
    that fits, never mid-word ("invite customers to the V").
    """
    text = text.strip().strip("\"'").rstrip(".").strip()
    if text.startswith(("(", "[")) or not _REAL_WORD.search(text):
        return ""
    if len(text) > MAX_ACTIVITY_CHARS:
        head = text[:MAX_ACTIVITY_CHARS + 1]
        clause = max(head.rfind("; "), head.rfind(", "))
        text = head[:clause] if clause >= MAX_ACTIVITY_CHARS // 2 else head[:head.rfind(" ")] if " " in head else head
    return text[:MAX_ACTIVITY_CHARS].rstrip(" ,;")


# -- day plan ------------------------------------------------------------------
def parse_strokes(text: str) -> list[str]:
    """The broad strokes of a day plan: 3 to 8 numbered or bulleted items."""
    items: list[str] = []
    for line in text.splitlines():
        match = _ITEM.match(line)
        if not match:
            if items:  # the list is over; the model has moved on to something else
                break
            continue
        item = clean_activity(match.group(1))
        if item and item.lower() not in (i.lower() for i in items):
            items.append(item)
    if len(items) < 3:
        raise Unparseable(f"a day plan needs at least 3 items, found {len(items)}")
    return items[:8]


# -- hourly schedule -----------------------------------------------------------
@dataclass(frozen=True)
class Block:
    """One entry of the schedule: an activity from ``start`` to ``end`` (simulated seconds)."""

    start: float
    end: float
    activity: str

    @property
    def minutes(self) -> float:
        return (self.end - self.start) / 60


@dataclass
class DayPlan:
    """A day as planned on waking: its strokes, its schedule in blocks, from waking up to bedtime."""

    date: dt.date
    midnight: float
    wake: float
    strokes: list[str]
    blocks: list[Block]
    bedtime: float


def clock_minute(hour: int, minute: int, half: str | None) -> int | None:
    """Minute of the day for an hour, minute and optional am/pm; None if impossible."""
    if half and half.lower().startswith("p") and hour < 12:
        hour += 12
    elif half and half.lower().startswith("a") and hour == 12:
        hour = 0
    if hour > 24 or minute > 59:
        return None
    return hour * 60 + minute


def timed_items(text: str) -> list[tuple[int, str]]:
    """(minute of day, activity) from lines or ';'-separated items, time first or last.

    Accepts ``07:30 opening the shop``, ``7:30 am - opening the shop`` and
    ``opening the shop at 7:30 am``: small models mix the three.
    """
    items: list[tuple[int, str]] = []
    for segment in re.split(r"[\n;]+", text):
        segment = _NUMBER.sub("", segment)
        lead, tail = _TIMED.match(segment), _TRAILING_TIME.match(segment)
        if lead:
            minute = clock_minute(int(lead.group(1)), int(lead.group(2)), lead.group(3))
            activity = lead.group(4)
            trailing = _TRAILING_TIME.match(activity)
            if trailing:
                activity = trailing.group(1)
        elif tail:
            minute = clock_minute(int(tail.group(2)), int(tail.group(3) or 0), tail.group(4))
            activity = tail.group(1)
        else:
            continue
        activity = clean_activity(activity)
        if minute is not None and activity:
            items.append((minute, activity))
    return items


def parse_schedule(text: str, midnight: float, after: float, horizon_h: float = 22.0,
                   minimum: int = 2) -> list[tuple[float, str]]:
    """Timed items as (simulated seconds, activity), in order.

    ``midnight`` is the simulated second at which the schedule's day starts;
    a time earlier than the one before it is taken to be after midnight.
    Entries before ``after`` or more than ``horizon_h`` hours after it are
    dropped; at least ``minimum`` must remain.
    """
    entries: list[tuple[float, str]] = []
    offset = 0.0
    last_minute = -1
    begins = int((after - midnight) // 60)  # a day begun in the afternoon (a night worker's) turns over sooner
    evening = begins if 12 * 60 <= begins < 18 * 60 else 18 * 60
    for minute, activity in timed_items(text):
        if entries and minute == last_minute and not offset:
            entries[-1] = (entries[-1][0], activity)  # two lines for one time: the later one stands
            continue
        if entries and minute < last_minute:
            if not (last_minute >= evening and minute < 12 * 60) or offset:
                continue  # out of order: not a plausible step past midnight
            offset = 86400.0
        at = midnight + offset + minute * 60
        if after <= at <= after + horizon_h * 3600:
            entries.append((at, activity))
            last_minute = minute
    if len(entries) < minimum:
        raise Unparseable(f"a schedule needs at least {minimum} timed lines (HH:MM activity), found {len(entries)}")
    return entries


def schedule_blocks(entries: list[tuple[float, str]], bedtime_default: float, habit: float | None = None,
                    plain: Sequence[tuple[float, str]] = ()) -> tuple[list[Block], float]:
    """Blocks from timed entries, up to the first one about sleeping (which is bedtime).

    Given the persona's ``habit`` (its usual bedtime), a bedtime is believed only near it: "sleeping"
    hours before it is a nap when waking activity follows soon, else a slip whose hours the ``plain``
    schedule fills; nothing is planned long after it.
    """
    if habit is not None:
        entries = _believable_night(entries, habit, plain)
    blocks: list[Block] = []
    bedtime = None
    for (start, activity), following in zip(entries, entries[1:] + [(None, "")], strict=False):
        if is_sleep(activity) and blocks:
            bedtime = start
            break
        if is_sleep(activity):  # sleeping first thing: nothing planned before it
            continue
        end = following[0] if following[0] is not None else max(start + 3600, bedtime_default)
        blocks.append(Block(start, end, activity))
    if not blocks:
        raise Unparseable("the schedule has no waking activity")
    if bedtime is None:
        bedtime = blocks[-1].end
    if habit is not None and bedtime > habit + BEDTIME_SLACK_S:  # up far too late: to bed at the usual time
        bedtime = max(habit, blocks[0].start + 3600)
        blocks = [Block(b.start, min(b.end, bedtime), b.activity) for b in blocks if b.start < bedtime]
    return blocks, bedtime


def _believable_night(entries: list[tuple[float, str]], habit: float,
                      plain: Sequence[tuple[float, str]]) -> list[tuple[float, str]]:
    """``entries`` without a premature bedtime (see ``schedule_blocks``) and nothing long after the habit."""
    early, late = habit - BEDTIME_SLACK_S, habit + BEDTIME_SLACK_S
    kept: list[tuple[float, str]] = []
    for index, (at, activity) in enumerate(entries):
        if at > late:  # planned on far past the habit: to bed at the usual time
            kept = [(t, a) for t, a in kept if t < habit] + [(habit, "sleeping")]
            break
        if not (kept and is_sleep(activity) and at < early):
            kept.append((at, activity))
            continue
        awake = next((t for t, a in entries[index + 1:] if not is_sleep(a) and t <= late), None)
        if awake is not None and awake - at <= NAP_S:
            kept.append((at, "taking a nap"))
            continue
        until = late if awake is None else awake
        doing = [a for t, a in plain if t <= at and not is_sleep(a)]
        kept.append((at, doing[-1] if doing else "going about the day"))
        kept += [(t, a) for t, a in plain if at < t < until and (awake is None or not is_sleep(a))]
        if awake is None:
            break
    return kept


def format_schedule(blocks: list[Block], clock_at, bedtime: float | None = None) -> str:
    """Blocks as ``HH:MM activity`` lines (the shape the schedule prompt asks for)."""
    lines = [f"{clock_at(b.start):%H:%M} {b.activity}" for b in blocks]
    if bedtime is not None:
        lines.append(f"{clock_at(bedtime):%H:%M} sleeping")
    return "\n".join(lines)


def schedule_rows(blocks: list[Block], clock_at) -> list[dict[str, str]]:
    """Blocks as the rows a plan event logs."""
    return [{"start": f"{clock_at(b.start):%H:%M}", "end": f"{clock_at(b.end):%H:%M}", "activity": b.activity}
            for b in blocks]


def routine_entries(routine, wake_minute: int, bed_minute: int = DEFAULT_BEDTIME_MINUTE) -> str:
    """The persona's habitual day as schedule lines from the wake-up time on (the plain answer).

    A routine that never mentions sleep goes to bed at ``bed_minute`` (``bedtime_minute``: the lifestyle's).
    """
    lines = [(s.minute_of_day, s.activity) for s in routine]
    if not any(is_sleep(a) for _, a in lines):
        lines.append((bed_minute % 1440, "sleeping"))
    lines.sort(key=lambda line: (line[0] - wake_minute) % 1440)
    return "\n".join(f"{m // 60:02d}:{m % 60:02d} {a}" for m, a in lines)


def block_at(blocks: list[Block], now: float) -> Block | None:
    for block in blocks:
        if block.start <= now < block.end:
            return block
    return None


# -- decomposition -------------------------------------------------------------
def chunk_at(blocks: list[Block], bedtime: float, now: float) -> tuple[Block, float, int]:
    """The block in force at ``now`` (a short break between blocks), where its chunk ends, and its whole minutes.

    A chunk is what is decomposed at once: the block's rest, at most an hour, never past bedtime.
    """
    block = block_at(blocks, now) or Block(now, min([b.start for b in blocks if b.start > now] + [bedtime]),
                                           "taking a short break")
    end = min(block.end, now + CHUNK_MINUTES * 60, bedtime)
    return block, end, int((end - now) // 60)


def parse_steps(text: str) -> list[tuple[str, int]]:
    """Steps as (activity, minutes); a step without a duration gets the default."""
    steps: list[tuple[str, int]] = []
    for line in text.splitlines():
        if not line.strip():
            if steps:
                break
            continue
        match = _STEP.match(line)
        if not match:
            continue
        activity = clean_activity(match.group(1))
        if not activity or activity.endswith(":"):
            continue
        steps.append((activity, int(match.group(2)) if match.group(2) else DEFAULT_STEP_MINUTES))
    if not steps:
        raise Unparseable("no steps found (expected lines like '- doing something (10 minutes)')")
    return steps


def fit_durations(steps: list[tuple[str, int]], total: int, filler: str) -> list[tuple[str, int]]:
    """Steps whose minutes lie in 5-15 and add up to exactly ``total``.

    Durations are clipped to the range; steps beyond the total are dropped and
    the last one shortened; a remainder under 5 minutes is spread over earlier
    steps (or borrowed from them); a shortfall is filled with ``filler`` steps.
    Only a total under 5 minutes gives a single shorter step.
    """
    low, high = STEP_MINUTES
    if total <= 0:
        return []
    if total < low:
        return [(steps[0][0] if steps else filler, total)]
    fitted: list[list] = []
    used = 0
    for activity, minutes in steps:
        if used >= total:
            break
        fitted.append([activity, min(high, max(low, minutes), total - used)])
        used += fitted[-1][1]
    while used < total:  # the model's steps ran out before the chunk did
        minutes = min(high, total - used)
        fitted.append([filler, minutes])
        used += minutes
    last = fitted[-1]
    if last[1] < low and len(fitted) > 1:
        short = fitted.pop()[1]
        for step in fitted:  # spread the remainder over steps that have room
            room = min(high - step[1], short)
            step[1] += room
            short -= room
        if short:  # no room anywhere: keep a 5-minute last step, borrowing from the longest
            need = low - short
            for step in sorted(fitted, key=lambda s: -s[1]):
                take = min(step[1] - low, need)
                step[1] -= take
                need -= take
            fitted.append([last[0], low])
    return [(a, m) for a, m in fitted]


def default_steps(activity: str, total: int) -> str:
    """The plain decomposition: start, carry on, wrap up (lines in the parsed format)."""
    if total <= 20:
        return f" {activity} ({total} minutes)"
    middle = total - 15
    lines = [f" getting started: {activity} (5 minutes)"]
    while middle > 0:
        lines.append(f"- {activity} ({min(15, middle)} minutes)")
        middle -= min(15, middle)
    lines.append(f"- wrapping up: {activity} (10 minutes)")
    return "\n".join(lines)
