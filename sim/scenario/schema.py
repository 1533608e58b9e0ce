"""The scenario file format: one pydantic model per part of a scenario (``loading`` reads and checks files)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, field_validator

from agentville.sim.core.clock import LATEST
from agentville.sim.core.errors import Problem

MAX_SEED = 2**63 - 1  # the store keeps seeds as SQLite integers (64-bit)
DEFAULT_RUN = dt.timedelta(days=1)  # how long a run goes when neither the scenario's end nor --until says


def _local(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is not None:
        raise ValueError(f"{value.isoformat()} has a time zone; simulated times are local: write "
                         f"{value.replace(tzinfo=None).isoformat(timespec='minutes')}")
    if value > LATEST - DEFAULT_RUN:  # a run goes a day past its start unless told otherwise
        raise ValueError(f"too late: scenario times must be a day or more before the end of simulated time "
                         f"({LATEST:%Y-%m-%d %H:%M})")
    return value


LocalTime = Annotated[dt.datetime, AfterValidator(_local)]
Finite = Annotated[float, Field(allow_inf_nan=False)]  # .nan and .inf are floats to YAML, and wrong anywhere here

class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


Name = Field(min_length=1, max_length=120)


def _split_list(value: Any) -> Any:
    """Allow ``a; b; c`` wherever a list of sentences is expected."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(";") if part.strip()]
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("an empty item; write it out or remove it")
    return value


Item = Annotated[str, AfterValidator(_not_blank)]  # one entry of a list of sentences or names


class ObjectSpec(_Spec):
    """Something in an area that agents use; its state is a short text."""

    name: str = Name
    state: str = "idle"

    @classmethod
    def _from_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value


class AreaSpec(_Spec):
    name: str = Name
    objects: list[ObjectSpec] = []

    @field_validator("objects", mode="before")
    @classmethod
    def _names_as_objects(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [ObjectSpec._from_name(v) for v in value]
        return value


class PlaceSpec(_Spec):
    """A building or open space: the top of the place tree."""

    name: str = Name
    aliases: list[Item] = Field([], description="other names free text may use for it (\"the Willows\")")
    kind: str = ""
    public: bool | None = Field(None, description="known to every resident; by default, where no one lives and "
                                "some area is no one's room")
    xy: tuple[Finite, Finite]
    areas: list[AreaSpec] = Field(min_length=1)


class PathSpec(_Spec):
    """A walking path between two places, both ways."""

    between: tuple[str, str]
    minutes: float = Field(gt=0, le=24 * 60)


class RoutineStep(_Spec):
    """One step of a persona's habitual day (used until cognition plans it)."""

    at: str
    activity: str = Name
    place: str = Name

    @field_validator("at", mode="before")
    @classmethod
    def _clock_time(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            # YAML 1.1 reads 07:30 as the sexagesimal integer 450.
            value = f"{value // 60:02d}:{value % 60:02d}"
        if not isinstance(value, str) or not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", value.strip()):
            raise ValueError("must be a time of day as HH:MM (00:00 to 23:59)")
        hours, minutes = value.strip().split(":")
        return f"{int(hours):02d}:{minutes}"

    @property
    def minute_of_day(self) -> int:
        hours, minutes = self.at.split(":")
        return int(hours) * 60 + int(minutes)


class PersonaSpec(_Spec):
    """Who an agent is: the reference's identity stable set, plus a routine."""

    name: str = Name
    age: int = Field(ge=1, le=120)
    traits: str = Name
    learned: str = ""
    lifestyle: str = ""
    currently: str = ""
    home: str = Name
    knows: list[Item] | None = Field(None, description="places it knows at the start besides its home, its "
                                     "routine's and those its texts name; instead of the town's public places")
    memories: list[Item] = []
    daily_requirements: list[Item] = []
    routine: list[RoutineStep] = []

    _split = field_validator("memories", "daily_requirements", mode="before")(_split_list)


class TownSpec(_Spec):
    """What residents know of their town when the run starts."""

    residents_know: Literal["public", "own"] = Field(
        "public", description="public: the public places too; own: only their home, routine, texts and knows")
    public_within_minutes: float = Field(
        60.0, gt=0, description="with residents_know public: the public places this many minutes' walk from home")


class InterventionSpec(_Spec):
    """Something the experimenter does at a given moment."""

    at: LocalTime
    kind: Literal["whisper"] = "whisper"
    agent: str = Name
    text: str = Name


BACKENDS = ["embedded", "transformers", "openai", "fake"]
"""The backends ``generation.backend`` (and ``--llm``) may name.

Spelled here, below ``sim.generation``, so a scenario is checked without
importing a backend. ``sim.generation.registry`` owns the list: it gives each
name its kind, fails at import if its own and these differ, and appends the
name of a backend registered later.
"""
DEFAULT_BACKEND = BACKENDS[0]  # the embedded model; the fake backend is a test double, never a default


def _known_backend(name: Any) -> Any:
    """An unknown name is refused in the words pydantic uses for a Literal (the field was one)."""
    if name is not None and name not in BACKENDS:
        *most, last = map(repr, BACKENDS)
        raise ValueError(f"Input should be {', '.join(most)} or {last}" if most else f"Input should be {last}")
    return name


def _no_key_choice(value: Any) -> Any:
    """A shared scenario must not pick which secret is sent to the server it names (say ``AWS_SECRET_ACCESS_KEY``)."""
    raise ValueError("a scenario may not choose which secret is sent to a server: the API key comes from "
                     "$OPENAI_API_KEY, or from the variable the command line's --api-key-env names")


class GenerationSpec(_Spec):
    """How the agents' language model is reached, and what happens when it fails."""

    backend: Annotated[str | None, BeforeValidator(_known_backend)] = None
    model: str | None = None
    base_urls: list[str] = []
    api_key_env: Annotated[None, BeforeValidator(_no_key_choice)] = Field(None, exclude=True)  # always refused
    max_concurrency: int = Field(8, ge=1, le=1024)
    embedder: Literal["minilm", "hash"] | None = None
    temperature: float = Field(0.7, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)
    max_tokens: int = Field(64, ge=1, le=4096)
    call_minutes: float = Field(0.0, ge=0, le=60, description="simulated time one call costs")
    step_seconds: float = Field(0.0, ge=0, le=3600, description="deliver answers on the next step boundary "
                                "(lock-step like the reference's 10 s steps; 0: off)")
    timeout_s: float = Field(120.0, gt=0, le=3600, description="longest wait for one attempt at an answer "
                             "(the run also waits out the backend's retries)")
    retries: int = Field(4, ge=0, le=20)
    on_failure: Literal["fallback", "stop"] = "fallback"


class CognitionSpec(_Spec):
    """How agents think; the switches are the ablations experiments compare."""

    memory: bool = Field(True, description="look back at memories; off: the agent acts from its persona alone "
                                           "(nothing is recalled, no reflection; the paper's 'no memory')")
    retrieval: bool = Field(True, description="retrieve memories by score; off: only the most recent ones")
    reflection: bool = Field(True, description="reflect when new memories add up in importance")
    planning: bool = Field(True, description="plan the day; off: choose each next activity moment to moment")
    reflection_threshold: int = Field(150, ge=1, le=100000)
    importance: Literal["auto", "model", "embedding"] = Field(
        "auto", description="who rates how important each memory is: the model, an estimator over the memory's "
                            "embedding trained on labelled examples, or auto: the model if its ratings of the "
                            "examples follow their labels, else the estimator")
    retrieval_k: int = Field(8, ge=1, le=100)
    recency_weight: float = Field(1.0, ge=0, allow_inf_nan=False)
    importance_weight: float = Field(1.0, ge=0, allow_inf_nan=False)
    relevance_weight: float = Field(1.0, ge=0, allow_inf_nan=False)
    attention_bandwidth: int = Field(3, ge=1, le=50)
    conversation_turns: int = Field(8, ge=2, le=40, description="most lines in one conversation")
    conversation_cooldown_minutes: float = Field(120.0, ge=0, le=7 * 24 * 60)


class Scenario(_Spec):
    """A whole scenario file."""

    name: str = Name
    description: str = ""
    start: LocalTime
    end: LocalTime | None = None
    seed: int = Field(0, ge=0, le=MAX_SEED)
    places: list[PlaceSpec] = Field(min_length=1)
    paths: list[PathSpec] = []
    personas: list[PersonaSpec] = Field(min_length=1)
    town: TownSpec = TownSpec()
    interventions: list[InterventionSpec] = []
    generation: GenerationSpec = GenerationSpec()
    cognition: CognitionSpec = CognitionSpec()
    _warnings: list[Problem] = PrivateAttr(default_factory=list)  # allowed, but probably not meant
    _source: tuple[str, dict[str, Any]] | None = PrivateAttr(None)  # (YAML text, fields as loaded from it)
