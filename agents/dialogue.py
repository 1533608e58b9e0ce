"""Dialogue: two agents in one area talk, one line at a time.

The one who starts the conversation drives it from its own simpy process;
the other is pulled out of what it was doing and waits for the end. Each line
is conditioned on what the speaker retrieves about the listener and on the
conversation so far. A conversation ends when a speaker says goodbye or
decides it is over (a yes/no choice, from the third line on), or at the turn
limit. Lines take simulated time; both keep a one-sentence summary as a chat
memory, and the pair will not start another one before the cooldown is over.

Generation overlaps with speech: the reply to a line (and the next speaker's
"is it over?") is asked as soon as the line is known and is due when it has
been said, so the conversation's timeline is the one of asking afterwards,
while the workers get the request a few simulated seconds early. A reply
asked for a conversation that then ends is simply not said.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import simpy

from agentville.sim import events

from .asking import Unparseable, ask
from .templates import render
from .timing import DECIDING_S

if TYPE_CHECKING:
    from agentville.sim.location import Location

    from .memory import MemoryNode
    from .protocols import Speaker, SubProcess

FAREWELL = re.compile(r"\b(bye|goodbye|see you|take care|talk (to you )?later|catch you later)\b", re.I)
SECONDS_PER_WORD = 0.4  # speaking pace
MIN_LINE_SECONDS = 5.0
MAX_LINE_CHARS = 300
END_CHECK_FROM = 2  # the first line index at which a speaker may decide the talk is over


@dataclass
class Conversation:
    id: str
    starter: str
    partner: str
    where: Location
    started: float
    done: simpy.Event
    lines: list[tuple[str, str]] = field(default_factory=list)

    def transcript(self, empty: str = "") -> str:
        return "\n".join(f"{who}: {text}" for who, text in self.lines) or empty


def line_seconds(text: str) -> float:
    return max(MIN_LINE_SECONDS, SECONDS_PER_WORD * len(text.split()))


def clean_line(text: str, speaker: str, listener: str) -> str:
    """The speaker's own line: first line only, no name tag, no quotes, not the listener's reply."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    line = line.lstrip("-*• ").strip()
    for name in (speaker, speaker.split()[0]):
        if line.lower().startswith(name.lower() + ":"):
            line = line[len(name) + 1:]
    for name in (listener, listener.split()[0]):
        cut = line.find(name + ":")
        if cut > 0:
            line = line[:cut]
    line = line.strip().strip('"').strip()
    if len(line) < 2 or not any(c.isalpha() for c in line):
        raise Unparseable("empty line")
    return line[:MAX_LINE_CHARS]


def clean_summary(text: str) -> str:
    summary = text.strip().splitlines()[0].strip() if text.strip() else ""
    if len(summary.split()) < 4:
        raise Unparseable("the summary is too short")
    return summary[:MAX_LINE_CHARS]


def converse(starter: Speaker, partner: Speaker) -> SubProcess[None]:
    """A simpy sub-process run by ``starter``: the whole conversation, then both remember it."""
    ctx = starter.ctx
    conversation = Conversation(ctx.next_conversation_id(starter.name), starter.name, partner.name, starter.location,
                                ctx.env.now, ctx.env.event())
    starter.join(conversation)
    partner.join(conversation)
    ctx.log(events.CONVERSATION_START, starter.name, conversation=conversation.id, partner=partner.name,
            location=str(starter.location))
    turns = starter.cognition.conversation_turns
    speaker, listener = starter, partner
    reason = "turn limit"
    next_line = ctx.env.process(say(speaker, listener, conversation, last_turn=turns == 1, at=ctx.env.now),
                                owner=speaker.name)
    summary: simpy.Process | None = None
    for turn in range(turns):
        line = yield next_line
        conversation.lines.append((speaker.name, line))
        ctx.log(events.UTTERANCE, speaker.name, conversation=conversation.id, listener=listener.name, turn=turn + 1,
                text=line)
        speaker.learn_places(line)
        listener.learn_places(line)
        said = ctx.env.now + line_seconds(line)
        goes_on = turn + 1 < turns and not (1 <= turn and FAREWELL.search(line))
        over = None
        if goes_on:  # the reply is composed (and the end considered) while this line is being said
            speaker, listener = listener, speaker
            if turn + 1 >= END_CHECK_FROM:
                over = ctx.llm.choice(
                    render("conversation_end", lines=conversation.transcript(), name=speaker.name,
                           other=listener.name),
                    ("yes", "no"), purpose="conversation_end", agent=speaker.name, default="no", due=said)
            next_line = ctx.env.process(say(speaker, listener, conversation, last_turn=turn + 2 == turns, at=said),
                                        owner=speaker.name)
        else:  # the last line: its summary is written while it is being said
            summary = ctx.env.process(summarize(starter, partner, conversation, at=said))
        yield ctx.env.timeout(said - ctx.env.now)
        if not goes_on:
            if turn + 1 < turns:
                reason = f"{speaker.name} said goodbye"
            break
        if over is not None and (yield over) == "yes":
            reason = f"{speaker.name} ended it"
            break
    if summary is None:  # ended by a decision: summarised now
        summary = ctx.env.process(summarize(starter, partner, conversation, at=ctx.env.now + DECIDING_S))
    text: str = yield summary
    minutes = round((ctx.env.now - conversation.started) / 60, 2)
    ctx.log(events.CONVERSATION_END, starter.name, conversation=conversation.id, partner=partner.name,
            lines=len(conversation.lines), minutes=minutes, reason=reason, summary=text)
    for me, other in ((starter, partner), (partner, starter)):
        me.last_talked[other.name] = ctx.env.now
        me.remember("chat", text, subject=other.name)  # consolidated in the background
        me.ask_to_replan(f"{me.name} had a conversation with {other.name}. {text}")
    starter.leave(conversation)
    partner.leave(conversation)
    conversation.done.succeed()


def summarize(starter: Speaker, partner: Speaker, conversation: Conversation, at: float) -> SubProcess[str]:
    """The conversation in one sentence (both keep it as a memory), due at ``at``."""
    return (yield from ask(
        starter.ctx, starter.name,
        render("summary", lines=conversation.transcript(), name=starter.name, other=partner.name),
        clean_summary, purpose="conversation_summary", max_tokens=48, stop=("\n",),
        prefix=f"{starter.name} and {partner.name}", joiner=" ",
        default=f" talked at {conversation.where.place}: {' / '.join(t for _, t in conversation.lines[:2])}",
        due=at))


def say(speaker: Speaker, listener: Speaker, conversation: Conversation, last_turn: bool,
        at: float) -> SubProcess[str]:
    """One line from ``speaker`` to be said at ``at``, drawing on what it remembers about ``listener``.

    It is asked as soon as the line before it is known, and due when that line has been said.
    """
    last = conversation.lines[-1][1] if conversation.lines else ""
    memories = speaker.recall(f"{listener.name}. {last}".strip(), touch=True)
    ctx = speaker.ctx
    prompt = render("utterance", persona=speaker.persona_text, time=ctx.clock.at(at).strftime("%A %H:%M"),
                    place=conversation.where.place, name=speaker.name, activity=speaker.activity,
                    other=listener.name, other_activity=listener.activity,
                    memories="\n".join(f"- {m.text}" for m in memories) or "- nothing yet",
                    lines=conversation.transcript())
    return (yield from ask(ctx, speaker.name, prompt, lambda t: clean_line(t, speaker.name, listener.name),
                           purpose="utterance", max_tokens=48, stop=("\n",),
                           default=default_line(speaker, listener, conversation, memories, last_turn), due=at))


def default_line(speaker: Speaker, listener: Speaker, conversation: Conversation, memories: list[MemoryNode],
                 last_turn: bool) -> str:
    """The plain line: a greeting, what the speaker is doing, then what it remembers about the listener."""
    turn = len(conversation.lines)
    first = listener.name.split()[0]
    if last_turn:
        return f" Anyway, I should get back to it. See you later, {first}!"
    if turn == 0:
        return f" Hi {first}! How is your day going?"
    if turn == 1:
        return f" Good, thanks! I'm {speaker.activity}. And you?"
    told = [m.text for m in memories if m.kind != "plan"]
    if told:
        return f" You know, {told[(turn - 2) % len(told)].rstrip('.')}."
    return f" Not much new here, {first}."
