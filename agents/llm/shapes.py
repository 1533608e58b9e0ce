"""The shapes of list answers, as regular expressions a backend generates under (``ask(..., shape=)``).

Each shape is the text after the prompt's own opening (``1.``, ``-``, a time):
what the prompt asks for, in a form its parser reads (the day plan's strokes,
schedule lines, steps with their minutes, a revision, reflection questions,
insights citing statements). Every part is bounded, so an answer ends, and
what the parser needs at the least (the first item or three) is at most
``max_tokens`` characters of printable ASCII: as a token is at least one
byte, that part is complete before the token limit, whatever the model picks.
Items after it may be cut there (``ask``'s ``whole_lines`` drops a cut line).

A regex cannot say everything a parser or check wants: distinct items, times
in order, a plan that keeps what was planned, an answer that does not repeat
the prompt's example. Those are still checked after parsing. Answers from
backends that take no shape (the fake backend, servers without structured
output) are free text, read by the same parsers.
"""

from __future__ import annotations

import functools

TEXT = "[ -~]"  # printable ASCII: one byte a character
PLAIN = r"[ -'*-9;-Z\\^-~]"  # printable ASCII without ( ) : [ ], which end a step or an insight's text
WORD = r"[A-Za-z][!-'*-9;-Z\\^-~]{0,11}"  # a letter, then up to 11 more characters, none a space or bracket
WORD_CHARS = 12
TIME = "([01][0-9]|2[0-3]):[0-5][0-9]"
END = r"(\n\n)?"  # the blank line that ends every list (the prompts' ``LIST_END``)
ACTIVITY_CHARS = 60  # an activity the model writes: about a line of the prompt's own
MINUTES = "([5-9]|1[0-5])"  # a step of 5 to 15 minutes, as the prompt asks


def phrase(chars: int, text: str = TEXT) -> str:
    """An activity of at most ``chars`` characters opening with a real word (three letters, as ``clean_activity``
    wants)."""
    return f"[A-Za-z]{{3}}{text}{{0,{chars - 3}}}"


def sentence(chars: int, text: str = TEXT) -> str:
    """At most ``chars`` characters opening with three words (each begins with a letter, so none is stripped away)."""
    opening = 3 * WORD_CHARS + 2
    return f"{WORD}( {WORD}){{2}}{text}{{0,{chars - opening}}}"


def numbered(item: str, least: int, most: int) -> str:
    """Items numbered from 1 (the prompt wrote ``1.``), ``least`` of them or up to ``most``."""
    more = ""
    for number in range(most, least, -1):
        more = f"(\\n{number}\\. ?{item}{more})?"
    return " ?" + item + "".join(f"\\n{number}\\. ?{item}" for number in range(2, least + 1)) + more + END


def day_plan(max_tokens: int) -> str:
    """The day in 3 to 8 numbered strokes (``schedule.parse_strokes``).

    The first three ("1." is the prompt's) take 1 + 2 * 4 characters of numbering around them.
    """
    return numbered(phrase((max_tokens - 9) // 3), 3, 8)


def schedule(max_tokens: int, first: str, most: int = 16) -> str:
    """``HH:MM activity`` lines after the prompt's ``first`` one (``schedule.parse_schedule``): one needed.

    The first of them comes later than ``first`` (``HH:MM``), or after midnight
    when ``first`` is in the evening, so the parser keeps it: times out of
    order are dropped, and a schedule needs two.
    """
    chars = min(ACTIVITY_CHARS, max_tokens - 7)
    return f"\\n{later_than(first)} {phrase(chars)}(\\n{TIME} {phrase(chars)}){{0,{most - 1}}}{END}"


@functools.lru_cache(maxsize=1440)
def later_than(clock: str) -> str:
    """A time ``HH:MM`` that ``parse_schedule`` keeps after a first line at ``clock``: later that day, within
    its 22-hour horizon, or before noon (after midnight) when ``clock`` is 18:00 or later."""
    start = int(clock[:2]) * 60 + int(clock[3:5])
    kept = [m for m in range(1440) if start < m <= start + 22 * 60 or (start >= 18 * 60 and m < 12 * 60)]
    hours = [h for h in range(24) if all(h * 60 + m in kept for m in range(60))]
    some = [f"{m // 60:02d}:{m % 60:02d}" for m in kept if m // 60 not in hours]
    whole = [f"({'|'.join(f'{h:02d}' for h in hours)}):[0-5][0-9]"] if hours else []
    return "(" + "|".join(whole + some) + ")"  # never empty: 23:xx is in the evening


def revision(max_tokens: int, most: int = 8) -> str:
    """What comes now (the prompt wrote the time), then ``HH:MM activity`` lines (``revision.read_revision``)."""
    chars = min(ACTIVITY_CHARS, max_tokens - 1)
    return f" ?{phrase(chars)}(\\n{TIME} {phrase(chars)}){{0,{most - 1}}}{END}"


def steps(max_tokens: int, most: int = 12) -> str:
    """``- doing something (10 minutes)`` lines, the prompt having written the first dash (``schedule.parse_steps``).

    Twelve 5-minute steps fill the longest chunk (an hour). The activity has no
    bracket or colon, so the parser reads the minutes as the step's own.
    """
    step = f"{phrase(min(ACTIVITY_CHARS, max_tokens - 14), PLAIN)} \\({MINUTES} minutes\\)"
    return f" ?{step}(\\n- ?{step}){{0,{most - 1}}}{END}"


def questions(max_tokens: int, most: int = 3) -> str:
    """Numbered questions of three words or more (``reflection.parse_questions``): one needed, up to three."""
    return numbered(sentence(min(100, max_tokens - 1)), 1, most)


def insights(statements: int, max_tokens: int, most: int = 5) -> str:
    """``N. insight (because of 1, 3)`` lines citing statements 1 to ``statements`` (``reflection.parse_insights``).

    An insight has three words or more and no bracket; it cites at most five
    statements: " (because of " is 13 characters, each number 1 to 3 more.
    """
    number = "(" + "|".join(str(n) for n in range(1, max(1, statements) + 1)) + ")"
    widest = len(str(max(1, statements)))
    cites = f" \\(because of {number}(, {number}){{0,4}}\\)"
    chars = min(100, max_tokens - 1 - (13 + widest + 4 * (2 + widest) + 1))
    return numbered(sentence(chars, PLAIN) + cites, 1, most)
