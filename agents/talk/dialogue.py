"""Dialogue: two agents in one area talk, one line at a time.

The one who starts the conversation drives it from its own simpy process;
the other is pulled out of what it was doing and waits for the end. Each line
is conditioned on what the speaker retrieves about the listener and on the
conversation so far. A conversation ends when a speaker says goodbye or
decides it is over (a yes/no choice, from the fifth line on: news needs a
few lines to come out), or at the turn limit. Lines take simulated time.
At the end each participant keeps the summary and what it took away from
its own point of view (``takeaway``), and the pair will not start another
one before the cooldown is over.

Generation overlaps with speech: the reply to a line (and the next speaker's
"is it over?") is asked as soon as the line is known and is due when it has
been said, so the conversation's timeline is the one of asking afterwards,
while the workers get the request a few simulated seconds early. A reply
asked for a conversation that then ends is simply not said.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import simpy

from agentville.agents.llm.asking import ask
from agentville.agents.llm.grounded import grounded
from agentville.agents.llm.templates import render
from agentville.agents.llm.timing import DECIDING_S
from agentville.agents.memory.stream import Impression
from agentville.sim.core import events

from .conversation import Conversation, Speaker, clean_line, clean_summary, line_seconds, not_said_before, plain_words
from .takeaway import Takeaway, core, news_in, take_away

if TYPE_CHECKING:

    from agentville.agents.memory.stream import MemoryNode
    from agentville.sim.context import SubProcess
FAREWELL = re.compile(r"\b(bye|goodbye|see you|take care|talk (to you )?later|catch you later)\b", re.I)
SUMMARY_TOKENS = 64
RECENT_NEWS = 12  # the latest things heard that a speaker may pass on, retrieved or not
END_CHECK_FROM = 4  # the first line index at which a speaker may decide the talk is over


def converse(starter: Speaker, partner: Speaker) -> SubProcess[None]:
    """A simpy sub-process run by ``starter``: the whole conversation, then both remember it."""
    ctx = starter.ctx
    conversation = Conversation(ctx.next_conversation_id(), starter.name, partner.name, starter.location,
                                ctx.now, ctx.event())
    starter.join(conversation)
    partner.join(conversation)
    ctx.log(events.CONVERSATION_START, starter.name, conversation=conversation.id, partner=partner.name,
            location=str(starter.location))
    turns = starter.cognition.conversation_turns
    speaker, listener = starter, partner
    reason = "turn limit"
    next_line = speaker.ctx.process(say(speaker, listener, conversation, last_turn=turns == 1, at=ctx.now))
    summary: simpy.Process | None = None
    for turn in range(turns):
        line = yield next_line
        conversation.lines.append((speaker.name, line))
        ctx.log(events.UTTERANCE, speaker.name, conversation=conversation.id, listener=listener.name, turn=turn + 1,
                text=line)
        speaker.learn_places(line)
        listener.learn_places(line)
        said = ctx.now + line_seconds(line)
        goes_on = turn + 1 < turns and not (1 <= turn and FAREWELL.search(line))
        over = None
        if goes_on:  # the reply is composed (and the end considered) while this line is being said
            speaker, listener = listener, speaker
            if turn + 1 >= END_CHECK_FROM:
                over = ctx.llm.choice(
                    render("conversation_end", lines=conversation.transcript(), name=speaker.name,
                           other=listener.name),
                    ("yes", "no"), purpose="conversation_end", agent=speaker.name, default="no", due=said)
            next_line = speaker.ctx.process(say(speaker, listener, conversation, last_turn=turn + 2 == turns, at=said))
        else:  # the last line: its summary and take-aways are written while it is being said
            summary = ctx.process(sum_up(starter, partner, conversation, at=said))
        yield ctx.timeout(said - ctx.now)
        if not goes_on:
            if turn + 1 < turns:
                reason = f"{speaker.name} said goodbye"
            break
        if over is not None and (yield over) == "yes":
            reason = f"{speaker.name} ended it"
            break
    if summary is None:  # ended by a decision: summed up now
        summary = ctx.process(sum_up(starter, partner, conversation, at=ctx.now + DECIDING_S))
    text, takeaways = yield summary
    minutes = round((ctx.now - conversation.started) / 60, 2)
    ctx.log(events.CONVERSATION_END, starter.name, conversation=conversation.id, partner=partner.name,
            lines=len(conversation.lines), minutes=minutes, reason=reason, summary=text)
    for (me, other), takeaway in zip(((starter, partner), (partner, starter)), takeaways, strict=True):
        me.last_talked[other.name] = ctx.now
        remember_talk(me, other, conversation, text, takeaway)
    starter.leave(conversation)
    partner.leave(conversation)
    conversation.done.succeed()


def sum_up(starter: Speaker, partner: Speaker, conversation: Conversation,
           at: float) -> SubProcess[tuple[str, list[Takeaway]]]:
    """The summary and both take-aways, asked together and due at ``at``."""
    ctx = starter.ctx  # the starter's processes, all three: it drives the conversation
    asked = [ctx.process(summarize(starter, partner, conversation, at))]
    asked += [ctx.process(take_away(me, other, conversation, at))
              for me, other in ((starter, partner), (partner, starter))]
    answers = []
    for process in asked:
        answers.append((yield process))
    return answers[0], answers[1:]


def remember_talk(me: Speaker, other: Speaker, conversation: Conversation, summary: str,
                  takeaway: Takeaway) -> None:
    """``me`` keeps the summary, what it learned from ``other`` and what it means to do (consolidated later).

    Only a conversation that left it something to do makes it rethink its day.
    """
    source = conversation.id
    impressions = [Impression("chat", summary, other.name, source=source)]
    impressions += [Impression("chat", fact, other.name, source=source) for fact in takeaway.learned]
    if takeaway.next_step:
        impressions.append(Impression("thought", f"After talking with {other.name}, {me.name} means to "
                                      f"{takeaway.next_step}", other.name, source=source))
    for impression in impressions[1:]:
        me.learn_places(impression.text)
    me.remember_all(impressions)
    if takeaway.next_step:
        me.ask_to_replan(f"{me.name} talked with {other.name}: {summary} {me.name} now plans to "
                         f"{takeaway.next_step}.")


def summarize(starter: Speaker, partner: Speaker, conversation: Conversation, at: float) -> SubProcess[str]:
    """The conversation in one sentence (both keep it as a memory), due at ``at``."""
    news = [n for _, line in conversation.lines if (n := news_in(line))]
    plain = f"talked at {conversation.where.place}" + (f": {'; '.join(news)}" if news else " for a while")
    lines = conversation.transcript()
    return (yield from ask(
        starter.ctx, starter.name, render("summary", lines=lines, name=starter.name, other=partner.name),
        clean_summary, purpose="conversation_summary", max_tokens=SUMMARY_TOKENS, stop=("\n",),
        check=grounded(starter.ctx, at, (lines, conversation.where.place, starter.persona_text)),
        prefix=f"{starter.name} and {partner.name}", joiner=" ", default=plain, due=at))


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
    said = tuple(text for _, text in conversation.lines)
    # what it may name: what the prompt shows and the news it may pass on (``news_for``), besides the town
    heard = speaker.memory.recent(RECENT_NEWS, kinds=("chat",)) if speaker.cognition.memory else []
    is_grounded = grounded(ctx, at, (speaker.persona_text, conversation.where.place, speaker.activity,
                                     listener.activity, conversation.transcript(), *(m.text for m in memories + heard)))

    def check(line: str) -> None:
        not_said_before(line, said)
        is_grounded(line)

    return (yield from ask(ctx, speaker.name, prompt, lambda t: clean_line(t, speaker.name, listener.name),
                           check=check,
                           purpose="utterance", max_tokens=48, stop=("\n",),
                           default=default_line(speaker, listener, conversation, memories, last_turn), due=at))


def default_line(speaker: Speaker, listener: Speaker, conversation: Conversation, memories: list[MemoryNode],
                 last_turn: bool) -> str:
    """The plain line: a greeting, then the speaker's news, one piece per line; small talk when it has none."""
    first = listener.name.split()[0]
    if last_turn:
        return f" Anyway, I should get back to it. See you later, {first}!"
    told = news_for(speaker, listener, conversation, memories)  # what is left to tell, most pressing first
    news = f"You know, {told[0]}." if told else ""
    if not conversation.lines:
        return f" Hi {first}! {news or 'How is your day going?'}"
    if news:
        return f" {news}"
    if len(conversation.lines) == 1:
        return f" Good, thanks! I'm {speaker.activity}. And you?"
    return f" Not much new here, {first}."


def news_for(speaker: Speaker, listener: Speaker, conversation: Conversation, memories: list[MemoryNode]) -> list[str]:
    """What the speaker has to tell the listener, most pressing first: what it is up to, then what it
    heard from others, then what else it recalls that bears on the listener or the topic (its persona's
    memories, its thoughts); nothing the listener told it, nothing already said in this conversation."""
    said = {plain_words(core(line)) for _, line in conversation.lines}
    # what it heard lately counts even when retrieval does not bring it up: news is what one passes on
    looked_back = speaker.memory.recent(RECENT_NEWS, kinds=("chat",)) if speaker.cognition.memory else []
    lately = [m for m in looked_back[::-1] if m not in memories]
    heard = [m for m in memories + lately if m.source and m.kind == "chat" and m.subject != listener.name
             and not m.text.startswith((f"{speaker.name} and ", f"{m.subject} and "))]  # not a summary
    # what it was told at the start or thought (what it saw others do, or did itself, is not news)
    other = [m for m in memories if m.kind in ("event", "thought") and m.subject is None]
    news: list[str] = []
    for text in [speaker.currently, *(m.text for m in heard), *(m.text for m in other)]:
        item = news_in(text)
        if item and plain_words(item) not in said and item not in news:
            news.append(item)
    return news
