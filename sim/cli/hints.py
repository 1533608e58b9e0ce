"""The commands a run's summary suggests, spelled so that they run as printed in the user's shell.

After ``make demo`` the shell has not activated the venv: a bare ``agentville``
is "command not found" there. So the hints name the command the way this
process was started (``.venv/bin/agentville``) unless the shell finds that
very script as ``agentville`` on its PATH.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

NAME = "agentville"


def agentville_command() -> str:
    """``agentville`` when the shell's PATH finds this script, else its path (the shorter of relative/absolute)."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is not None and script.name == "__main__.py" and script.parent.name == "cli":  # python -m
        return f"{shlex.quote(shortest(Path(sys.executable)))} -m agentville.sim.cli"
    if script is None or script.name != NAME or not script.is_file():
        return NAME  # called from Python (the API, tests): nothing better to suggest
    found = shutil.which(NAME)
    if found and Path(found).resolve() == script.resolve():
        return NAME
    return shlex.quote(shortest(script))


def shortest(path: Path) -> str:
    """``path`` relative to the working directory or absolute, whichever is shorter; always with a slash."""
    absolute = str(path.absolute())
    try:
        relative = os.path.relpath(absolute)
    except ValueError:  # another drive (Windows)
        return absolute
    if os.sep not in relative:
        relative = os.curdir + os.sep + relative  # a bare name would be looked up on PATH
    return min(relative, absolute, key=len)


def command(*words: str) -> str:
    """One shell command line: agentville (as reachable here) and the quoted words."""
    return " ".join([agentville_command(), *(shlex.quote(w) for w in words)])
