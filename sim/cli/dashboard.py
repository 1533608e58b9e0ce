"""``agentville dashboard``: serve the Streamlit dashboard on an event store, live or as a replay."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from agentville.sim.core.errors import UserError

from .arguments import Commands


def register(commands: Commands) -> None:
    dashboard = commands.add_parser(
        "dashboard", help="watch a run live or replay it in the browser (Streamlit)",
        description="Start the Streamlit dashboard on an event store (read-only). While a run writes to it the "
                    "page follows along; finished runs can be replayed with a time slider. Without DB the page "
                    "lists the stores found in --runs-dir.")
    dashboard.add_argument("db", metavar="DB", nargs="?", default=None, help="event store written by 'agentville run'")
    dashboard.add_argument("--runs-dir", default="runs", metavar="DIR", help="where to look for stores without DB "
                                                                            "(default: runs)")
    dashboard.add_argument("--address", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    dashboard.add_argument("--port", type=int, default=8501, help="port to listen on (default: 8501)")
    dashboard.add_argument("--headless", action="store_true", help="do not open a browser window")
    dashboard.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Become ``streamlit run <agentville.dashboard.app> -- DB``: the server process replaces this one.

    Replacing the process (rather than calling Streamlit's CLI in-process)
    leaves this interpreter's arguments and environment untouched, and lets
    Ctrl-C and kill signals reach the server directly.
    """
    import importlib.util

    if args.db is not None and not Path(args.db).is_file():
        raise UserError(f"{args.db}: no such event store (make one with 'agentville run SCENARIO --db {args.db}')")
    if not 0 < args.port < 65536:
        raise UserError(f"--port {args.port}: not a port number")
    port_free(args.address, args.port)
    spec = importlib.util.find_spec("agentville.dashboard.app")
    if spec is None or spec.origin is None:
        raise UserError("the dashboard is not installed (agentville.dashboard.app is missing)")
    command = [sys.executable, "-m", "streamlit", "run", spec.origin, "--server.address", args.address,
               "--server.port", str(args.port), "--server.headless", "true" if args.headless else "false",
               "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal",  # no "Deploy" button
               "--client.showErrorDetails", "none",  # a failure's message and traceback go to this console only
               "--", *([str(Path(args.db).resolve())] if args.db else [])]
    env = {**os.environ, "AGENTVILLE_RUNS_DIR": str(Path(args.runs_dir).resolve())}
    print(f"Dashboard on http://{args.address}:{args.port} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    sys.stdout.flush()
    os.execve(sys.executable, command, env)
    return 0  # not reached: the server has replaced this process


def port_free(address: str, port: int) -> None:
    """Refuse, before announcing the dashboard, an address and port another program already listens on."""
    import socket

    with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: only a listener is in the way
        try:
            probe.bind((address, port))
        except OSError as exc:
            raise UserError(f"cannot serve the dashboard on {address}:{port}: {exc.strerror or exc} "
                            f"(is another dashboard running? pick another with --port)") from None
