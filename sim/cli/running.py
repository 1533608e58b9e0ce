"""What ``run``, ``resume`` and ``fork`` share: the progress bar, the summary, and re-living a stored run.

The runs themselves are assembled by ``sim.runtime.runner``; this module only
drives them from the shell and says what they did.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

from agentville.sim.core.errors import GenerationError, UserError


def _progress_bar(sim: Any, until: dt.datetime, disabled: bool) -> Any:
    """A tqdm bar in simulated hours, showing the simulated clock and event count."""
    if disabled:
        return None
    from tqdm import tqdm

    class SimBar(tqdm):
        def update_to(self, reached: float, end: float) -> None:
            self.set_postfix_str(f"{sim.clock.at(reached):%a %H:%M}, {sim.events_logged} events", refresh=False)
            self.update(round(reached / 3600, 3) - self.n)

    total = round(sim.clock.seconds(until) / 3600, 3)
    shape = "{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} sim h [{elapsed}<{remaining}{postfix}]"
    return SimBar(total=total, unit="h", desc=sim.scenario.name, dynamic_ncols=True, disable=None, bar_format=shape)


def format_summary(s: Any, evaluation: Any = None, scenario: Any = None) -> str:
    """What the run did, how believable it looks (the rubric; the interviews when ``evaluation`` is given),
    and the commands to look at it, spelled to run as printed in this shell (``hints``). ``scenario``: the
    run's, already loaded."""
    from agentville.sim.analysis.rubric import run_rubric
    from agentville.sim.analysis.stats import answer_troubles, format_answer_troubles
    from agentville.sim.lab.evaluation import interview_digest, rubric_digest
    from agentville.sim.store.eventstore import EventStore

    from .hints import command

    hours = (s.sim_end - s.sim_start).total_seconds() / 3600
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(s.by_kind.items(), key=lambda kv: -kv[1]))
    with EventStore(s.db_path, read_only=True) as store:
        answers = format_answer_troubles(*answer_troubles(store, s.run_id))
        rubric = rubric_digest(run_rubric(store, s.run_id, scenario))
        importance = importance_line(store.run(s.run_id)["settings"])
    interviews = interview_digest(evaluation) if evaluation else f"interviews: {command('evaluate', s.db_path)}"
    return "\n".join([
        f"Run {s.run_id} {s.status}",
        f"  simulated  {s.sim_start:%Y-%m-%d %H:%M} -> {s.sim_end:%Y-%m-%d %H:%M} ({hours:.1f} h) "
        f"in {s.wall_s:.1f} s of wall time",
        f"  agents     {s.agents}",
        f"  events     {s.events} ({kinds})",
        f"  LLM        {s.llm_calls} calls ({s.extra.get('cache_hits', 0)} from the cache), "
        f"{s.llm_blocked_s:.1f} s spent waiting for answers",
        f"  answers    {answers}",
        *([f"  importance {importance}"] if importance else []),
        f"  believable {rubric}",
        f"             {interviews}",
        f"  log        {s.db_path}",
        f"Watch it:    {command('dashboard', s.db_path)}",
        f"Inspect it:  {command('events', s.db_path, '--kind', 'action')} | head",
        f"LLM usage:   {command('stats', s.db_path)}",
        f"In pandas:   from agentville.sim import EventStore; EventStore('{s.db_path}').events('{s.run_id}')",
    ])


def importance_line(settings: dict[str, Any]) -> str:
    """Who rated the memories' importance, and why (``agents.memory.importance``); empty for older runs."""
    from agentville.agents.memory.importance import AGREEMENT

    source = settings.get("importance_source")
    if source is None:
        return ""
    agreement = settings.get("importance_agreement")
    why = (settings.get("importance_calibration") or "as set" if agreement is None else
           f"the model's ratings of the labelled examples follow them at rho={agreement:.2f} "
           f"{'>=' if agreement >= AGREEMENT else '<'} {AGREEMENT}")
    held_out = settings.get("importance_estimator_rho")
    estimator = f"; the estimator's follow held-out examples at rho={held_out:.2f}" if held_out is not None else ""
    return f"{source} ({why}{estimator})"


def stored_run(store: Any, args: argparse.Namespace) -> tuple[dict, Any, str, Any]:
    """A stored run with what it takes to re-live it: (run, scenario, backend name, cognition).

    The scenario is the copy stored with the run (a note on stderr when its file has changed since);
    ``run["scenario_path"]`` becomes the file's absolute path where it is found.
    """
    from agentville.sim.generation import backend_for_model
    from agentville.sim.scenario.schema import CognitionSpec
    from agentville.sim.scenario.stored import stored_scenario

    try:
        run = store.run(args.run)
    except LookupError as exc:
        raise UserError(str(exc)) from None
    stored = stored_scenario(run)
    if stored.warning:
        print(f"agentville: warning: {stored.warning}", file=sys.stderr)
    scenario, run["scenario_path"] = stored.scenario, stored.path
    settings = run["settings"]
    used = settings.get("llm", "")
    llm = args.llm or backend_for_model(used)
    if llm is None:
        raise UserError(f"run {run['run_id']} used the model {used!r}: pass --llm and --model to reach it again")
    cognition = CognitionSpec(**settings["cognition"]) if "cognition" in settings else scenario.cognition
    return run, scenario, llm, cognition


def relive(store: Any, run: dict, scenario: Any, llm: str, cognition: Any, until: dt.datetime,
           args: argparse.Namespace, **start: Any) -> int:
    """Run ``scenario`` again in the run's own store and seed, to ``until``; ``start``: resume or parent, fork time."""
    from agentville.sim.runtime.runner import open_run

    with open_run(scenario, store=store, seed=run["seed"], llm=llm, model=args.model, base_urls=args.base_url,
                  api_key_env=args.api_key_env,
                  cognition=cognition, scenario_path=run["scenario_path"], scheduling=args.scheduling) as sim:
        summary = run_with_progress(sim, until, args.no_progress, pace=args.pace, **start)
    print(format_summary(summary, scenario=scenario))
    return 0


def run_with_progress(sim: Any, until: dt.datetime, disabled: bool, pace: float | None = None, **start: Any) -> Any:
    """``sim.run`` under a progress bar; a run stopped on purpose says where its log is kept."""
    from agentville.sim.generation.embeddings import MiniLMEmbedder
    from agentville.sim.generation.models import quiet_weight_loading

    bar = _progress_bar(sim, until, disabled=disabled)
    if bar is not None and isinstance(sim.llm.embedder, MiniLMEmbedder):  # it loads mid-run, under our bar
        quiet_weight_loading()
    try:
        return sim.run(until, progress=bar.update_to if bar else None, pace=pace, **start)
    except GenerationError as exc:  # stopped on purpose: say where what was logged is
        raise GenerationError(f"{exc}; run {sim.run_id} is marked failed, everything logged so far is kept in "
                              f"{sim.store.path}") from None
    finally:
        if bar:
            bar.close()
