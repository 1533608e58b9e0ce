"""How believable a run is: its residents interviewed at a moment, their answers graded, and its rubric.

    from agentville.sim.lab.evaluation import evaluate_run

    found = evaluate_run("runs/the_ville_3.db", at="+4h")
    print(found.categories)          # right / partly / wrong / does-not-know per category, and a score
    print(found.answers)             # every question, its ground truth from the log, the answer, the grade

A stored run is re-lived to the moment in a scratch copy of its store (every
model answer of the run comes from the cache, and the re-lived log must match
the stored one row for row, as a fork's does), so the residents are exactly
who they were then; then each is asked its questions (``sim.analysis.questions``:
made from the log with known answers) through the ordinary interview, all at
once so the backend can batch them. Nothing is written to the run's log; the
graded answers are kept in the store's ``evaluations`` table for the dashboard.
Same log, seed and model: same questions, same answers, same grades.
"""

from __future__ import annotations

import datetime as dt
import math
import sqlite3
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from agentville.sim.analysis import believability
from agentville.sim.analysis.questions import Quiz, run_quiz
from agentville.sim.analysis.rubric import Rubric, rubric
from agentville.sim.core.clock import parse_until
from agentville.sim.core.errors import UserError
from agentville.sim.generation import Backend, backend_for_model
from agentville.sim.generation.endpoints import DEFAULT_KEY_ENV
from agentville.sim.runtime.engine import Simulation
from agentville.sim.runtime.runner import open_run
from agentville.sim.scenario.schema import CognitionSpec
from agentville.sim.scenario.stored import stored_scenario
from agentville.sim.store import evaluations
from agentville.sim.store.eventstore import EventStore
from agentville.sim.store.opening import sqlite_uri
from agentville.sim.store.writer import Diverged

from .judge import judged


@dataclass(frozen=True)
class Evaluation:
    """A run's interviews graded (``answers``: one row per question, ground truth beside it) and its rubric."""

    run_id: str
    at: dt.datetime
    seed: int
    model: str
    answers: pd.DataFrame
    rubric: Rubric
    wall_s: float  # re-living, asking and grading
    questions: int  # interview requests sent to the model (its cost in calls)

    @property
    def categories(self) -> pd.DataFrame:
        return believability.categories(self.answers)

    @property
    def judged(self) -> pd.DataFrame | None:
        """The categories by a model judge's grades (None without a judge)."""
        return believability.categories(self.answers, "judge") if "judge" in self.answers else None

    @property
    def hallucination_rate(self) -> float:
        return believability.hallucination_rate(self.answers)

    @property
    def hallucinations(self) -> pd.DataFrame:
        return self.answers[self.answers["hallucinations"].map(bool)]

    def digest(self) -> str:
        """Two lines for a run's summary: the rubric's telling figures, and the interview scores."""
        return f"{rubric_digest(self.rubric)}\n{interview_digest(self)}"


DIGEST_MEASURES = ("asleep at night", "places per day", "plan adherence", "repeated lines", "ungrounded texts")


def rubric_digest(found: Rubric) -> str:
    """One line of the rubric's telling figures ("rubric: asleep at night 0.95 · places per day 2.60 · ...")."""
    values = dict(zip(found.measures["measure"], found.measures["value"], strict=True))
    return "rubric: " + " · ".join(f"{m} {values[m]:.2f}" if values.get(m) == values.get(m) else f"{m} n/a"
                                   for m in DIGEST_MEASURES if m in values)


def interview_digest(evaluation: Evaluation) -> str:
    """One line of the interview scores per category and the share of answers with made-up names."""
    return f"interviews: {believability.digest(evaluation.categories, evaluation.hallucination_rate)}"


def ask(sim: Simulation, quiz: Quiz) -> dict[str, list[str]]:
    """Every resident's answers to its questions, through the interview path, all submitted at once."""
    asked = [(name, sim.agent(name).interview_question(q.text))
             for name, questions in quiz.questions.items() for q in questions]
    said = sim.llm.answer_now([request for _, (request, _) in asked])
    answers: dict[str, list[str]] = {name: [] for name in quiz.questions}
    for (name, (_, finish)), answer in zip(asked, said, strict=True):
        answers[name].append(finish(answer))
    return answers


def evaluate_live(sim: Simulation, seed: int | None = None) -> Evaluation:
    """Interview a running simulation's residents now (an ``Experiment``): questions from its log so far."""
    started = time.monotonic()
    sim.flush()
    assert sim.run_id is not None
    quiz = run_quiz(sim.store, sim.run_id, sim.now, seed)
    answers = believability.graded(quiz, ask(sim, quiz))
    events = sim.store.events(sim.run_id)
    return Evaluation(sim.run_id, sim.now, sim.seed if seed is None else seed, sim.llm.backend.model_id, answers,
                      rubric(events, sim.scenario, until=sim.env.now), time.monotonic() - started,
                      len(answers))


def evaluate_run(db: str | Path, run_id: str | None = None, at: str | dt.datetime | None = None,
                 seed: int | None = None, *, llm: str | None = None, model: str | None = None,
                 base_urls: list[str] | None = None, api_key_env: str = DEFAULT_KEY_ENV,
                 backend: Backend | None = None, judge: Backend | None = None, save: bool = True) -> Evaluation:
    """Evaluate a stored run (the newest when ``run_id`` is None) at ``at`` (default: as far as it went).

    ``llm``/``model`` reach the run's model when its name alone does not (an OpenAI-compatible server);
    ``seed`` samples other questions (default: the run's seed). ``judge``: a model that grades the answers too
    (``sim.lab.judge``; a ``judge`` column). ``save`` keeps the result in the store.
    """
    started = time.monotonic()
    with EventStore(db, read_only=True) as store:
        try:
            run = store.run(run_id)
        except LookupError as exc:
            raise UserError(str(exc)) from None
        scenario = stored_scenario(run).scenario
        moment, seconds = _moment(run, at)
        quiz = run_quiz(store, run["run_id"], moment, seed)
        found = rubric(store.events(run["run_id"]).query("sim_time <= @seconds"), scenario, until=seconds)
    settings = run["settings"]
    llm = llm or backend_for_model(settings.get("llm", ""))
    if llm is None and backend is None:
        raise UserError(f"run {run['run_id']} used the model {settings.get('llm')!r}: pass --llm and --model "
                        "to reach it again")
    cognition = CognitionSpec(**settings["cognition"]) if "cognition" in settings else scenario.cognition
    with tempfile.TemporaryDirectory(prefix="agentville-evaluate-") as folder:
        scratch = Path(folder) / "scratch.db"
        _copy_store(Path(db), scratch)
        with open_run(scenario, db=scratch, seed=run["seed"], llm=llm, model=model, base_urls=base_urls,
                      api_key_env=api_key_env, backend=backend, cognition=cognition,
                      scenario_path=run.get("scenario_path")) as sim:
            # every stored row before the moment must come back; those at it (the run's end) are not compared
            sim.start(moment, parent=run["run_id"], fork_time=math.nextafter(seconds, 0.0))
            try:
                sim.advance(moment)
            except Diverged as exc:
                raise UserError(f"cannot re-live run {run['run_id']} to {moment:%Y-%m-%d %H:%M} to interview its "
                                f"residents: {str(exc).replace('the fork cannot', 'it could not')}") from None
            said = ask(sim, quiz)
            model_id = sim.llm.backend.model_id
            sim.finish("interrupted", "evaluated (a scratch copy)")
    answers = believability.graded(quiz, said)
    if judge is not None:
        answers["judge"] = judged(answers, judge, run["seed"] if seed is None else seed)
    evaluation = Evaluation(run["run_id"], moment, run["seed"] if seed is None else seed, model_id, answers, found,
                            time.monotonic() - started, len(answers))
    if save:
        with EventStore(db) as store:
            keep(store, evaluation)
    return evaluation


def keep(store: EventStore, evaluation: Evaluation) -> None:
    """Store an evaluation's graded answers and figures (``sim.store.evaluations``) for the dashboard."""
    start = dt.datetime.fromisoformat(store.run(evaluation.run_id)["sim_start"])
    facts: dict[str, Any] = {"wall_s": evaluation.wall_s, "questions": evaluation.questions,
                             "rubric": evaluation.rubric.measures.to_dict(orient="records")}
    evaluations.save(store.db, evaluation.run_id, at=(evaluation.at - start).total_seconds(), seed=evaluation.seed,
                     model=evaluation.model, answers=evaluation.answers.to_dict(orient="records"), facts=facts)


def _moment(run: Mapping[str, Any], at: str | dt.datetime | None) -> tuple[dt.datetime, float]:
    """The moment to evaluate at, and its simulated second; it must fall within what the run lived."""
    start = dt.datetime.fromisoformat(run["sim_start"])
    reached = float(run.get("sim_reached") or 0.0)
    end = start + dt.timedelta(seconds=reached)
    moment = end if at is None else parse_until(at, start, name="--at") if isinstance(at, str) else at
    seconds = (moment - start).total_seconds()
    if not 0 < seconds <= reached:
        raise UserError(f"--at {moment:%Y-%m-%d %H:%M}: the run lived from {start:%Y-%m-%d %H:%M} to "
                        f"{end:%Y-%m-%d %H:%M}; evaluate a moment in between")
    return moment, seconds


def _copy_store(source: Path, target: Path) -> None:
    """A consistent copy of a store (log and cache), read through SQLite so a run writing to it is no harm."""
    reader = sqlite3.connect(sqlite_uri(source, "ro"), uri=True)
    writer = sqlite3.connect(target)
    try:
        reader.backup(writer)
    finally:
        writer.close()
        reader.close()
