"""``agentville evaluate``: how believable a run is (interviews graded from its log, and its rubric).

Given a store, its run is re-lived to a moment and every resident is asked
questions whose answers the log knows (``sim.lab.evaluation``). Given a
scenario, it runs the conditions asked for (the paper's ablations, or one
run per ``--llm``) and prints them side by side (``sim.lab.comparison``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agentville.sim.core.clock import parse_until
from agentville.sim.core.errors import UserError

from .arguments import Commands, open_store, run_flag, seed_value, server_flags

EXAMPLES = 5  # made-up names and worst answers printed


def register(commands: Commands) -> None:
    evaluate = commands.add_parser(
        "evaluate", help="how believable a run is: residents interviewed and graded, and the rubric from the log",
        description="With a store: re-live its run to --at (model answers from the cache), ask every resident "
                    "questions whose answers the log knows (self-knowledge, memory, plans, reactions, "
                    "reflections), grade the answers right / partly / wrong / does-not-know, count made-up "
                    "names, and print the rubric measured from the log. The result is kept in the store for "
                    "the dashboard's Believability tab. With a scenario: run each condition (--ablations, or "
                    "one run per --llm) to --until and print them side by side.",
        epilog="examples:\n  agentville evaluate runs/the_ville_3.db\n"
               "  agentville evaluate runs/the_ville_3.db --at +3h --json\n"
               "  agentville evaluate worlds/the_ville_3.yaml --ablations --until +4h --llm fake\n"
               "  agentville evaluate worlds/the_ville_3.yaml --until +2h --llm embedded --llm transformers "
               "--model '' --model random:tiny",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    evaluate.add_argument("target", metavar="DB|SCENARIO", help="an event store, or a scenario YAML to compare "
                                                                "conditions on")
    run_flag(evaluate)
    evaluate.add_argument("--at", default=None, metavar="WHEN", help="the moment to interview at: +3h (from the "
                                                                     "start) or 2023-02-13T15:00 (default: the "
                                                                     "run's end)")
    evaluate.add_argument("--seed", type=seed_value, default=None,
                          help="sample the questions with this seed (default: the run's)")
    evaluate.add_argument("--llm", action="append", default=None, metavar="BACKEND",
                          help="with a store: the run's backend when it cannot be inferred; with a scenario: a "
                               "backend to compare (repeat for several)")
    evaluate.add_argument("--model", action="append", default=None,
                          help="model for the --llm of the same position (repeat)")
    server_flags(evaluate)
    judge = evaluate.add_argument_group("a model judge (optional; the deterministic grades stay the default)")
    judge.add_argument("--judge-llm", default=None, metavar="BACKEND",
                       help="a backend that grades every answer against the same ground truth too")
    judge.add_argument("--judge-model", default=None, metavar="MODEL", help="the judge's model")
    judge.add_argument("--judge-base-url", action="append", default=None, metavar="URL",
                       help="the judge's OpenAI-compatible server (gets the API key, as --base-url does)")
    evaluate.add_argument("--ablations", action="store_true",
                          help="with a scenario: full, no reflection, no reflection and no planning, no memory")
    evaluate.add_argument("--until", default=None, metavar="WHEN", help="with a scenario: how long each run "
                                                                        "lasts (default: +4h)")
    evaluate.add_argument("--db", default=None, metavar="PATH", help="with a scenario: the store the runs go to "
                                                                     "(default: runs/<scenario>-evaluate.db)")
    shape = evaluate.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="print everything as one JSON document")
    shape.add_argument("--csv", action="store_true", help="print the graded answers (or the comparison) as CSV")
    evaluate.add_argument("--no-save", action="store_true", help="do not keep the result in the store")
    evaluate.add_argument("--no-progress", action="store_true", help="do not draw progress bars")
    evaluate.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    if Path(args.target).suffix.lower() in (".yaml", ".yml"):
        return _compare(args)
    if args.ablations or args.until or args.db:
        raise UserError("--ablations, --until and --db take a scenario (a .yaml file), not a store")
    if args.llm and len(args.llm) > 1:
        raise UserError("--llm: a store's run has one model; compare models on a scenario")
    from agentville.sim.lab.evaluation import evaluate_run

    open_store(args.target).close()  # a path that is no store: one line, not a new file
    with _judge(args) as judge:
        found = evaluate_run(args.target, args.run, args.at, args.seed, llm=(args.llm or [None])[0],
                             model=(args.model or [None])[0], base_urls=args.base_url,
                             api_key_env=args.api_key_env, judge=judge, save=not args.no_save)
    if args.json:
        print(json.dumps(_document(found), ensure_ascii=False, indent=1, default=str))
    elif args.csv:
        found.answers.to_csv(sys.stdout, index=False)
    else:
        print(_report(found, args.target, saved=not args.no_save))
    return 0


def _document(found: Any) -> dict[str, Any]:
    return {"run_id": found.run_id, "at": found.at.isoformat(), "seed": found.seed, "model": found.model,
            "categories": found.categories.to_dict(orient="records"),
            "hallucination_rate": found.hallucination_rate, "answers": found.answers.to_dict(orient="records"),
            "rubric": found.rubric.measures.to_dict(orient="records"),
            "rubric_by_agent": found.rubric.agents.to_dict(orient="records"),
            "wall_s": found.wall_s, "interview_calls": found.questions}


def _report(found: Any, db: str, saved: bool) -> str:
    from agentville.sim.analysis.believability import worst

    answers = found.answers
    made_up = found.hallucinations
    lines: list[str] = [
        f"Run {found.run_id}, interviewed at {found.at:%Y-%m-%d %H:%M} (model {found.model}, question seed "
        f"{found.seed}): {len(answers)} questions to {answers['agent'].nunique()} residents", "",
        _table(found.categories), ""]
    if found.judged is not None:
        lines += ["By the judge's grades:", _table(found.judged), ""]
    lines += [
             f"Made-up names: {_share(found.hallucination_rate)} of answers ({len(made_up)} of {len(answers)})"]
    lines += [f"  {r.agent}: {r.question} -> {r.answer!r} (made up: {', '.join(r.hallucinations)})"
              for r in made_up.head(EXAMPLES).itertuples()]
    lines += ["", "Worst answers (expected from the log):"]
    for r in worst(answers, EXAMPLES).itertuples():
        lines += [f"  [{r.grade}] {r.agent}: {r.question}", f"      said     {r.answer}",
                  f"      expected {r.expected}"]
    measures = found.rubric.measures[["measure", "value", "unit"]]
    lines += ["", "Rubric (from the log):", _table(measures), "",
              f"Re-lived, asked and graded in {found.wall_s:.1f} s ({found.questions} interview calls)"
              + ("; kept in the store for the dashboard's Believability tab" if saved else "")]
    return "\n".join(lines)


def _compare(args: argparse.Namespace) -> int:
    from agentville.sim.lab import comparison
    from agentville.sim.scenario import load_scenario

    from .running import run_with_progress

    if args.run or args.at:
        raise UserError("--run and --at take a store; a scenario's runs are evaluated at their end (--until)")
    if not args.ablations and not args.llm:
        raise UserError("with a scenario, say what to compare: --ablations, or two or more --llm")
    if args.ablations and args.llm and len(args.llm) > 1:
        raise UserError("--ablations compares on one model: give one --llm")
    scenario = load_scenario(args.target)
    until = parse_until(args.until or "+4h", scenario.start, name="--until")
    models = args.model or []
    conditions = (comparison.ablations((args.llm or [None])[0], (models or [None])[0]) if args.ablations
                  else comparison.models(args.llm, [m or None for m in models]))
    db = Path(args.db) if args.db else Path("runs") / f"{Path(args.target).stem}-evaluate.db"
    print(f"Comparing {len(conditions)} conditions on {scenario.name} to {until:%Y-%m-%d %H:%M} in {db}",
          file=sys.stderr)
    with _judge(args) as judge:
        table, _ = comparison.compare(args.target, conditions, db=db, until=until, seed=args.seed,
                                      run=lambda sim, end: run_with_progress(sim, end, args.no_progress),
                                      judge=judge, base_urls=args.base_url, api_key_env=args.api_key_env)
    if args.json:
        print(table.to_json(orient="records", indent=1))
    elif args.csv:
        table.to_csv(sys.stdout, index=False)
    else:
        print(_table(table.drop(columns=["run"])))
        print("\npairwise: Bradley-Terry strength from answers paired across conditions (same resident, "
              "category and turn), the better grade winning")
        if args.ablations:
            print("paper TrueSkill: human judges' ratings of the same conditions (Park et al. 2023); compare "
                  "the order, not the numbers")
    return 0


@contextlib.contextmanager
def _judge(args: argparse.Namespace) -> Iterator[Any]:
    """The judge's backend, if one was asked for (closed afterwards)."""
    if args.judge_llm is None:
        if args.judge_model or args.judge_base_url:
            raise UserError("--judge-model and --judge-base-url need --judge-llm")
        yield None
        return
    from agentville.sim.generation import make_backend
    from agentville.sim.scenario import GenerationSpec

    backend = make_backend(args.judge_llm, GenerationSpec(), model=args.judge_model, base_urls=args.judge_base_url,
                           api_key_env=args.api_key_env)
    try:
        yield backend
    finally:
        backend.close()


def _table(frame: Any) -> str:
    return frame.to_string(index=False, float_format=lambda v: f"{v:.2f}", na_rep="n/a")


def _share(value: float) -> str:
    return "n/a" if value != value else f"{value:.2f}"
