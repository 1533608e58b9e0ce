"""Prefix-cache hits with two replicas: requests routed by agent against round-robin.

Usage: python bench/replicas.py [--hours 3] [--budgets 1000 4000] [--importance auto|model|embedding]
                               [--scenario worlds/smallville.yaml]

Two OpenAI-compatible servers on 127.0.0.1 (threads of this process) model a
server's prefix cache the way vLLM's automatic prefix caching works: a prompt
is cut into blocks of ``BLOCK`` whitespace tokens, each block named by its
tokens and all before it, and the server keeps an LRU of at most ``budget``
tokens' worth of blocks. A request's cached tokens are its leading blocks
found there. It answers after ``prefill`` per uncached prompt token (one
prompt at a time: the compute-bound part, so a replica given more work is
slower) plus ``decode`` per output token (batched: concurrent). The answers
are the fake backend's for the same request (an option for a guided choice,
free text otherwise), so answers never depend on the replica.

The request stream is a real simulation: the scenario's first ``--hours``
through ``OpenAIBackend`` pointed at the two servers, once per routing and
budget. Routing never changes what the run logs, so both routings see the
same requests (the table says so: same requests, same prompt tokens).
Hit rate = cached prompt tokens / prompt tokens, over both servers; uncached =
the prompt tokens the servers had to compute (prefill work).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import hashlib
import json
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from agentville.sim.generation import FakeBackend
from agentville.sim.generation.embeddings import make_embedder
from agentville.sim.generation.openai_backend import OpenAIBackend
from agentville.sim.generation.requests import ChoiceRequest, TextRequest
from agentville.sim.runtime.runner import assemble
from agentville.sim.scenario import load_scenario
from agentville.sim.store.eventstore import EventStore

MODEL = "bench"
BLOCK = 16  # tokens per cached block: vLLM's default block size (SGLang's radix cache: 1)


class PrefixCache:
    """An LRU of prompt blocks, at most ``budget`` tokens; counts what it served."""

    def __init__(self, budget: int, block: int = BLOCK):
        self.block = block
        self.capacity = max(1, budget // block)
        self.blocks: collections.OrderedDict[bytes, None] = collections.OrderedDict()
        self.requests = self.prompt_tokens = self.cached_tokens = 0

    def read(self, tokens: list[str]) -> int:
        """Cache the prompt's blocks; the number of its tokens that were cached already (its leading blocks)."""
        names, name = [], b""
        for start in range(0, len(tokens) - len(tokens) % self.block, self.block):
            name = hashlib.sha256(name + "\x1f".join(tokens[start:start + self.block]).encode()).digest()
            names.append(name)
        hits = 0
        while hits < len(names) and names[hits] in self.blocks:
            hits += 1
        for name in reversed(names):  # a prompt's last blocks go first, as in vLLM: its opening is worth most
            self.blocks[name] = None
            self.blocks.move_to_end(name)
        while len(self.blocks) > self.capacity:
            self.blocks.popitem(last=False)
        self.requests += 1
        self.prompt_tokens += len(tokens)
        self.cached_tokens += hits * self.block
        return hits * self.block


class CachingServer:
    """An OpenAI-compatible server with a modelled prefix cache and latency, in a thread."""

    def __init__(self, budget: int, block: int, prefill_s: float, decode_s: float):
        self.cache = PrefixCache(budget, block)
        self.prefill_s, self.decode_s = prefill_s, decode_s
        self.lock = threading.Lock()  # the cache, and one prefill at a time
        self.fake = FakeBackend()
        self.httpd = _QuietServer(("127.0.0.1", 0), _Handler)
        self.httpd.owner = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> CachingServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        prompt = str(body["prompt"])
        tokens = prompt.split()
        with self.lock:
            cached = self.cache.read(tokens)
            time.sleep(self.prefill_s * (len(tokens) - cached))
        guided = body.get("structured_outputs") or {}
        if guided.get("choice"):
            request: ChoiceRequest | TextRequest = ChoiceRequest(prompt, tuple(guided["choice"]),
                                                                 seed=int(body.get("seed") or 0))
        else:
            request = TextRequest(prompt, max_tokens=int(body.get("max_tokens") or 64), seed=int(body.get("seed") or 0))
        text = self.fake.answer(request).text
        output = len(text.split())
        time.sleep(self.decode_s * output)
        return {"object": "text_completion", "model": MODEL,
                "choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": len(tokens), "completion_tokens": output}}


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """The backend closing its idle connections at the end is no error."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._send({"object": "list", "data": [{"id": MODEL, "object": "model"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        self._send(self.server.owner.complete(body))  # type: ignore[attr-defined]

    def _send(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def simulate(args: argparse.Namespace, routing: str, budget: int) -> dict[str, Any]:
    """One run of the scenario's first hours through two caching servers; what they served."""
    scenario = load_scenario(args.scenario)
    servers = [CachingServer(budget, args.block, args.prefill, args.decode) for _ in range(2)]
    with servers[0] as a, servers[1] as b, \
            tempfile.TemporaryDirectory() as folder, EventStore(Path(folder) / "bench.db") as store, \
            OpenAIBackend(MODEL, [a.url, b.url], routing=routing, max_concurrency=args.concurrency) as backend:
        sim = assemble(scenario, store=store, backend=backend, cache_mode="off", embedder=make_embedder("hash"),
                       cognition={"importance": args.importance})
        start = time.perf_counter()
        summary = sim.run(scenario.start + dt.timedelta(hours=args.hours))
        wall = time.perf_counter() - start
        caches = [a.cache, b.cache]
    requests = sum(cache.requests for cache in caches)
    return {"routing": routing, "budget": budget, "calls": summary.llm_calls, "requests": requests,
            "prompt": sum(cache.prompt_tokens for cache in caches),
            "hits": sum(cache.cached_tokens for cache in caches),
            "shares": [cache.requests / max(1, requests) for cache in caches], "wall": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="worlds/smallville.yaml")
    parser.add_argument("--hours", type=float, default=3.0, help="simulated hours from the scenario's start")
    parser.add_argument("--budgets", type=int, nargs="+", default=[1000, 4000],
                        help="prefix-cache budget of each server, in tokens")
    parser.add_argument("--block", type=int, default=BLOCK, help="tokens per cached block")
    parser.add_argument("--prefill", type=float, default=2e-4, help="seconds per uncached prompt token")
    parser.add_argument("--decode", type=float, default=1e-3, help="seconds per output token")
    parser.add_argument("--concurrency", type=int, default=8, help="the backend's requests in flight")
    parser.add_argument("--importance", choices=["auto", "model", "embedding"], default="auto",
                        help="who rates memories (embedding: no rating prompts, as when a small model fails "
                             "calibration; their shared few-shot opening is most of the shared prompt tokens)")
    args = parser.parse_args()
    print(f"{'budget':>7} {'routing':<12} {'calls':>6} {'requests':>8} {'prompt tok':>10} {'hit rate':>8} "
          f"{'uncached':>9} {'share a/b':>11} {'wall s':>7} {'hits vs rr':>10}")
    for budget in args.budgets:
        baseline = None
        for routing in ("round-robin", "agent"):
            row = simulate(args, routing, budget)
            baseline = baseline or row
            ratio = row["hits"] / baseline["hits"] if baseline["hits"] else float("nan")
            share = "/".join(f"{s:.0%}" for s in row["shares"])
            print(f"{budget:>7} {routing:<12} {row['calls']:>6} {row['requests']:>8} {row['prompt']:>10} "
                  f"{row['hits'] / max(1, row['prompt']):>8.1%} {row['prompt'] - row['hits']:>9} {share:>11} "
                  f"{row['wall']:>7.1f} {ratio:>9.2f}x",
                  flush=True)


if __name__ == "__main__":
    main()
