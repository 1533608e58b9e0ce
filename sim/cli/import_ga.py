"""``agentville import-ga``: a scenario from a generative_agents (reference implementation) simulation folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .arguments import Commands


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        "import-ga", help="turn a generative_agents simulation (storage folder + maze) into a scenario file",
        description="Read a reference implementation (joonspk-research/generative_agents) simulation folder: "
                    "reverie/meta.json and personas/<Name>/bootstrap_memory/{scratch,spatial_memory}.json, and "
                    "its town's maze (the matrix folder), and write an Agentville scenario. Every guess is one "
                    "line on stderr. See README.md, 'Coming from generative_agents'.",
        epilog="examples:\n"
               "  agentville import-ga storage/base_the_ville_isabella_maria_klaus "
               "--maze static_dirs/assets/the_ville/matrix -o worlds/ville.yaml\n"
               "  agentville import-ga storage/my_sim --onto worlds/smallville.yaml -o worlds/my_sim.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("storage", metavar="STORAGE_DIR", help="the simulation folder (it holds personas/)")
    town = parser.add_mutually_exclusive_group()
    town.add_argument("--maze", default=None, metavar="MAZE_DIR",
                      help="the maze's matrix folder (default: the one meta.json's maze_name names, found next to "
                           "the storage folder as in the reference's layout)")
    town.add_argument("--onto", default=None, metavar="SCENARIO",
                      help="move the people into this scenario's town instead of importing a maze")
    parser.add_argument("-o", "--output", default="-", metavar="OUT.yaml",
                        help="where to write the scenario (default: '-', standard output)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from agentville.sim.core.errors import UserError
    from agentville.sim.ga.importer import import_ga, to_yaml

    from .hints import command

    imported = import_ga(args.storage, maze=args.maze, onto=args.onto)
    for note in imported.notes:
        print(note, file=sys.stderr)
    to_stdout = args.output == "-"
    text = to_yaml(imported, "<stdout>" if to_stdout else args.output)
    if to_stdout:
        sys.stdout.write(text)
        return 0
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"-o {args.output}: cannot write the scenario there ({exc.strerror})") from None
    data, hint = imported.data, command("run", args.output, "--llm", "fake", "--until", "+3h")
    print(f"wrote {args.output}: {len(data['places'])} places, {len(data['paths'])} paths, "
          f"{len(data['personas'])} personas; try it: {hint}", file=sys.stderr)
    return 0
