"""The event schema: every kind of row the log holds, defined once for writers and readers.

An event row is ``(run_id, seq, sim_time, kind, agent, data, wall)``. Each
kind below is a constant naming it and a ``TypedDict`` saying what its
``data`` holds; the engine, the agents, the dashboard, the metrics and the
README's event table all use these definitions, so a field cannot be renamed
in one place and forgotten in another. ``wall`` (latencies, cache hits) is
free-form: it differs between identical runs by design.

Locations in payloads are ``Place: area: object`` strings (``sim.core.location``).
"""

from typing import Any, Literal, NotRequired, TypedDict  # no __future__ annotations: NotRequired must be seen

# -- run statuses (the ``runs`` table) ------------------------------------------
RUNNING, FINISHED, FAILED, INTERRUPTED = "running", "finished", "failed", "interrupted"
CRASHED = "crashed"  # never stored: how a 'running' run whose process is gone reads back
STATUSES = (RUNNING, FINISHED, FAILED, INTERRUPTED, CRASHED)

# -- kinds ----------------------------------------------------------------------
RUN_STARTED = "run_started"
RUN_FINISHED = "run_finished"
AGENT_ADDED = "agent_added"
INTERVENTION = "intervention"
PLACED = "placed"
MOVE = "move"
ARRIVED = "arrived"
ACTION = "action"
OBJECT_STATE = "object_state"
MEMORY = "memory"
LEARNED_PLACE = "learned_place"
PLAN = "plan"
REACTION = "reaction"
CONVERSATION_START = "conversation_start"
UTTERANCE = "utterance"
CONVERSATION_END = "conversation_end"
REFLECTION = "reflection"
INTERVIEW = "interview"
LLM_CALL = "llm_call"
PARSE_FAILED = "parse_failed"
FALLBACK = "fallback"
IDENTITY = "identity"


# -- payloads -------------------------------------------------------------------
class RunStarted(TypedDict):
    """The run begins: its scenario, seed, residents and planned end."""
    scenario: str
    seed: int
    agents: list[str]
    start: str
    until: str | None


class RunFinished(TypedDict):
    """The run reached its end; ``events`` counts every row, this one included."""
    events: int


class AgentAdded(TypedDict):
    """A resident joined a running simulation (its persona, as in a scenario file)."""
    persona: dict[str, Any]


class Intervention(TypedDict):
    """The experimenter spoke to an agent's inner voice."""
    intervention: Literal["whisper"]
    text: str


class Placed(TypedDict):
    """An agent appears at a location without walking (at the start of its life)."""
    location: str


class Move(TypedDict):
    """An agent sets off along ``route`` (places) and will arrive after ``minutes``."""
    origin: str
    target: str
    route: list[str]
    minutes: float


class Arrived(TypedDict):
    """An agent is at ``location`` (after a walk, or a step within one area)."""
    location: str


class Action(TypedDict):
    """An agent starts an activity where it is."""
    activity: str
    location: str
    description: str


class ObjectState(TypedDict):
    """An object's state changed (``in use by ...``, or back to its default)."""
    location: str
    state: str


class Memory(TypedDict):
    """A memory entered an agent's stream, rated 1-10; thoughts cite evidence ids and have a depth."""
    id: int
    kind: Literal["event", "thought", "chat", "plan"]
    text: str
    importance: int
    subject: str | None
    evidence: list[int]
    depth: int
    source: NotRequired[str]  # the conversation it was learned in (from ``subject``)
    importance_source: NotRequired[Literal["model", "embedding"]]  # who rated it (absent in older logs)


class LearnedPlace(TypedDict):
    """An agent heard of a place it did not know."""
    place: str


class Plan(TypedDict):
    """A plan: ``level`` day (strokes and schedule), revision (the rest of the day) or steps (one hour's actions)."""
    level: Literal["day", "revision", "steps"]
    date: NotRequired[str]
    wake: NotRequired[str]
    strokes: NotRequired[list[str]]
    schedule: NotRequired[list[dict[str, str]]]
    bedtime: NotRequired[str]
    reason: NotRequired[str]
    activity: NotRequired[str]
    minutes: NotRequired[int]
    steps: NotRequired[list[dict[str, Any]]]


class Reaction(TypedDict):
    """An agent saw someone and decided to talk, wait or carry on."""
    other: str
    decision: str


class ConversationStart(TypedDict):
    """The agent starts conversation ``conversation`` with ``partner``."""
    conversation: str
    partner: str
    location: str


class Utterance(TypedDict):
    """One line of a conversation."""
    conversation: str
    listener: str
    turn: int
    text: str


class ConversationEnd(TypedDict):
    """A conversation ended (goodbye, decision or turn limit) with its summary."""
    conversation: str
    partner: str
    lines: int
    minutes: float
    reason: str
    summary: str


class Reflection(TypedDict):
    """An agent reflected: its questions and the memory ids of the insights it wrote."""
    questions: list[str]
    insights: list[int]


class Interview(TypedDict):
    """An agent answered a question from memory (the memory ids it drew on)."""
    question: str
    answer: str
    memories: list[int]


class LLMCall(TypedDict):
    """One model call: purpose, prompt, answer, seed, tokens, whether the answer is a fallback, and when it
    was ``asked`` and ``due`` (simulated seconds; the row is logged when the answer is delivered, at ``due``).
    A choice also has its ``options`` and, when the model said something, the ``raw`` text behind the answer."""
    purpose: str
    model: str
    request: Literal["TextRequest", "ChoiceRequest"]
    prompt: str
    output: str
    seed: int
    prompt_tokens: int
    output_tokens: int
    fallback: bool
    asked: float
    due: float
    options: NotRequired[list[str]]
    raw: NotRequired[str]  # choices: the model's own answer behind ``output`` (free text, or option scores)


class ParseFailed(TypedDict):
    """A model answer did not have the expected shape (it is asked again)."""
    purpose: str
    output: str
    reason: str
    attempt: int


class Fallback(TypedDict):
    """The retries were spent; the agent used its plain answer."""
    purpose: str
    value: str


class Identity(TypedDict):
    """Falling asleep, an agent revised what it is busy with these days (its persona's "currently" line),
    from the day's memories; ``day`` is the day it wakes up to."""
    currently: str
    previous: str
    day: str


PAYLOADS: dict[str, type] = {
    RUN_STARTED: RunStarted, RUN_FINISHED: RunFinished, AGENT_ADDED: AgentAdded, INTERVENTION: Intervention,
    PLACED: Placed, MOVE: Move, ARRIVED: Arrived, ACTION: Action, OBJECT_STATE: ObjectState, MEMORY: Memory,
    LEARNED_PLACE: LearnedPlace, PLAN: Plan, REACTION: Reaction, CONVERSATION_START: ConversationStart,
    UTTERANCE: Utterance, CONVERSATION_END: ConversationEnd, REFLECTION: Reflection, INTERVIEW: Interview,
    LLM_CALL: LLMCall, PARSE_FAILED: ParseFailed, FALLBACK: Fallback, IDENTITY: Identity,
}
KINDS = frozenset(PAYLOADS)
WHERE_LOCATED = (PLACED, ARRIVED)  # kinds whose ``location`` is where the agent now is


def problems(kind: str, data: dict[str, Any]) -> list[str]:
    """What is wrong with one row's ``data`` against its kind's payload (empty when it conforms)."""
    payload = PAYLOADS.get(kind)
    if payload is None:
        return [f"unknown event kind {kind!r}"]
    required = set(getattr(payload, "__required_keys__", ()))
    allowed = required | set(getattr(payload, "__optional_keys__", ()))
    found = []
    if missing := required - set(data):
        found.append(f"{kind}: missing {', '.join(sorted(missing))}")
    if extra := set(data) - allowed:
        found.append(f"{kind}: unexpected {', '.join(sorted(extra))}")
    return found


def markdown_table() -> str:
    """The README's event table, made from the payloads above (a test keeps the README in step)."""
    lines = ["| kind | data | meaning |", "|---|---|---|"]
    for kind, payload in PAYLOADS.items():
        required = list(getattr(payload, "__required_keys__", ()))
        fields = [f"`{name}`" for name in payload.__annotations__ if name in required]
        fields += [f"`{name}`?" for name in payload.__annotations__ if name not in required]
        meaning = " ".join((payload.__doc__ or "").split())
        lines.append(f"| `{kind}` | {', '.join(fields)} | {meaning} |")
    return "\n".join(lines)
