"""Servers for backend tests, all on 127.0.0.1 and all stopped by their owner.

``FakeOpenAIServer`` is a scripted OpenAI-compatible server in a thread: it can
fail on cue (HTTP errors, garbage, dropped connections, slow answers) and
behave like servers that honour, reject or silently ignore guided choice.
``TransformersServe`` runs the real ``transformers serve`` on a local model, and
``CountingProxy`` stands in front of a server to count what reaches it (a
server's own log lines are no interface: their text changes between releases).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

HOST = "127.0.0.1"
GUIDED = ("structured_outputs", "guided_choice")
# every field that restricts an answer to options, as the servers that offer one name it (choices.GUIDED_PARAMS)
CONSTRAINTS = (*GUIDED, "grammar", "regex", "response_format")
# what transformers serve takes at /v1/completions (``strict`` servers answer 422 to any other field)
COMPLETION_FIELDS = {"model", "prompt", "max_tokens", "temperature", "top_p", "seed", "stop", "stream", "n",
                     "best_of", "echo", "frequency_penalty", "logit_bias", "logprobs", "presence_penalty",
                     "stream_options", "suffix", "user", "generation_config"}


def free_port() -> int:
    """A port nothing listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


# ----- a scripted fake -----

# 500, "garbage", "drop", "empty" (a 200 with no text), ("sleep", seconds), ("echo", status, padding): the key
# echoed after padding characters, ("body", json): a 200 with that JSON as its body, ("raw", status, bytes)
Fault = int | str | tuple[str, float] | tuple[str, int, int] | tuple[str, int, bytes] | tuple[str, Any]


def _guided_options(body: dict[str, Any], param: str) -> list[str] | None:
    """The options a request restricts its answer to under ``param``, read the way that server reads it."""
    value = body.get(param)
    if value is None:
        return None
    if param == "grammar":  # root ::= "a" | "b"
        return [json.loads(literal) for literal in re.findall(r'"(?:[^"\\]|\\.)*"', value)]
    if param == "regex":  # (a|b), metacharacters escaped
        return [re.sub(r"\\(.)", r"\1", part) for part in re.split(r"(?<!\\)\|", value[1:-1])]
    if param == "response_format":
        return value["json_schema"]["schema"].get("enum")  # a text's shape is a pattern, not options
    return value.get("choice") if isinstance(value, dict) else value


class FakeOpenAIServer:
    """An OpenAI-compatible server whose faults and guided-choice support are set by the test.

    ``faults`` are applied to successive POSTs, one each, then it answers
    normally: ``text(body)`` for free text, or an option picked by seed when the
    request uses a constraint field (``CONSTRAINTS``) named in ``honour`` (as a
    JSON string under ``response_format``). Fields named in ``reject`` get HTTP
    400 naming them; any other unknown field is ignored, as vLLM does, unless
    ``strict``: then every field outside ``COMPLETION_FIELDS`` gets HTTP 422,
    as from ``transformers serve``. Scripted HTTP errors echo the Authorization
    header, as a careless proxy might, so tests can check the backend never
    repeats the key.
    """

    def __init__(self, models: Iterable[str] = ("tiny",), *, faults: Iterable[Fault] = (),
                 text: Callable[[dict[str, Any]], str] = lambda body: "hello world",
                 honour: Iterable[str] = GUIDED, reject: Iterable[str] = (), strict: bool = False,
                 random_faults: tuple[float, list[Fault], int] | None = None):
        self.models, self.faults, self.text = list(models), list(faults), text
        # (rate, kinds, seed): after the scripted faults, each POST fails with that chance, as one of the kinds
        self.random_faults = random_faults
        self._dice = random.Random(random_faults[2]) if random_faults else None
        self.faulted: list[Fault] = []
        self.honour, self.reject, self.strict = set(honour), set(reject), strict
        self.posts: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.paths: list[str] = []  # of every request, query included
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = _QuietServer((HOST, 0), _Handler)
        self._httpd.owner = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-openai", daemon=True)

    @property
    def url(self) -> str:
        """The bare address (no /v1), so tests also cover URL normalisation."""
        return f"http://{HOST}:{self._httpd.server_address[1]}"

    def start(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers that are sleeping on cue
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def next_fault(self, body: dict[str, Any], headers: dict[str, str]) -> Fault | None:
        with self._lock:
            self.posts.append(body)
            self.headers.append(headers)
            if self.faults:
                return self.faults.pop(0)
            if self.random_faults and self._dice is not None and self._dice.random() < self.random_faults[0]:
                fault = self._dice.choice(self.random_faults[1])
                self.faulted.append(fault)
                return fault
            return None

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """The status and JSON body of a normal answer."""
        unexpected = set(body) - COMPLETION_FIELDS if self.strict else set()
        if unexpected:
            return 422, {"detail": f"Unexpected fields in the request: {unexpected}"}
        for param in CONSTRAINTS:
            if param in body and param in self.reject:
                return 400, {"error": {"message": f"unknown parameter: {param}", "type": "invalid_request"}}
        if body.get("model") not in self.models:
            return 404, {"error": {"message": f"model {body.get('model')!r} does not exist"}}
        text = self.text(body)
        for param in CONSTRAINTS:
            options = _guided_options(body, param)
            if param in self.honour and options:
                text = options[int(body.get("seed") or 0) % len(options)]
                text = json.dumps(text) if param == "response_format" else text
        usage = {"prompt_tokens": len(str(body.get("prompt", "")).split()), "completion_tokens": len(text.split())}
        return 200, {"object": "text_completion", "model": body["model"],
                     "choices": [{"index": 0, "text": text, "finish_reason": "stop"}], "usage": usage}


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up is what fault tests do; no tracebacks for it."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like real servers
    disable_nagle_algorithm = True  # headers and body go out in two writes: don't wait 40 ms for an ACK

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    @property
    def owner(self) -> FakeOpenAIServer:
        return self.server.owner  # type: ignore[attr-defined]

    def do_GET(self) -> None:
        self.owner.paths.append(self.path)
        if self.path.split("?")[0].rstrip("/").endswith("/v1/models"):
            self._send(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in self.owner.models]})
        else:
            self._send(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        self.owner.paths.append(self.path)
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        fault = self.owner.next_fault(body, {k.lower(): v for k, v in self.headers.items()})
        if fault == "drop":
            self.close_connection = True  # hang up without a word
            return
        if fault == "garbage":
            self._send_raw(200, b"<html>this is not json")
            return
        if fault == "empty":
            self._send(200, {"object": "text_completion", "model": body.get("model"),
                             "choices": [{"index": 0, "text": "", "finish_reason": "stop"}], "usage": {}})
            return
        if isinstance(fault, tuple) and fault[0] == "body":  # a 200 whose JSON the test wrote
            self._send_raw(200, json.dumps(fault[1]).encode())
            return
        if isinstance(fault, tuple) and fault[0] == "raw":  # any status and body bytes the test wrote
            self._send_raw(fault[1], fault[2])
            return
        if isinstance(fault, tuple) and fault[0] == "echo":  # the key where a message would be cut
            sent = self.headers.get("Authorization", "no key")
            self._send_raw(fault[1], (" " * fault[2] + f"you sent: {sent}").encode())
            return
        if isinstance(fault, tuple):
            self.owner.sleep(fault[1])
        elif isinstance(fault, int):  # echoes the key, as a careless proxy might: the backend must not repeat it
            sent = self.headers.get("Authorization", "no key")
            self._send(fault, {"error": {"message": f"scripted HTTP {fault} (you sent: {sent})"}})
            return
        self._send(*self.owner.answer(body))

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        self._send_raw(status, json.dumps(payload).encode())

    def _send_raw(self, status: int, data: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            self.close_connection = True


# ----- the real transformers serve -----

def serving_available() -> bool:
    """Whether ``transformers serve`` can start here (it needs fastapi, uvicorn and openai)."""
    from transformers.utils.import_utils import is_serve_available

    return is_serve_available()


class TransformersServe:
    """``transformers serve MODEL_DIR`` as a child process on 127.0.0.1, pinned to that one model.

    The server names the model exactly as given on its command line, so
    ``model`` (the directory as a string) is the name to request.
    """

    def __init__(self, model_dir: Path, log_path: Path, port: int | None = None):
        self.model = str(model_dir)
        self.port = port or free_port()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/v1"

    def command(self) -> list[str]:
        script = Path(sys.executable).parent / "transformers"
        exe = str(script) if script.exists() else (shutil.which("transformers") or "transformers")
        return [exe, "serve", self.model, "--host", HOST, "--port", str(self.port), "--device", "cpu"]

    def start(self, timeout_s: float = 90) -> TransformersServe:
        """Start and wait until /health answers; raise with the log's tail if it does not."""
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"transformers serve exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"http://{HOST}:{self.port}/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"transformers serve did not come up in {timeout_s:g}s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL the server's process group (ours: it was started in a new session) and reap it."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def __enter__(self) -> TransformersServe:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.kill()


# ----- a pass-through proxy that counts -----

class CountingProxy:
    """A plain HTTP proxy on 127.0.0.1 in front of ``upstream_port``: it counts the POSTs it has handed on.

    Tests that must know a request is in the server's hands count here rather
    than in the server's log. When the server is gone (killed mid-answer, or
    not listening), the proxy hangs up on its client without a word, as the
    dead server would have: the client sees a dropped connection.
    """

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.forwarded = 0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((HOST, 0), _ProxyHandler)
        self._httpd.daemon_threads = True
        self._httpd.owner = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._httpd.server_address[1]}/v1"

    def count(self) -> None:
        with self._lock:
            self.forwarded += 1

    def wait_for_posts(self, count: int, timeout_s: float = 30) -> None:
        """Wait until ``count`` POSTs in all have been sent on to the server."""
        deadline = time.monotonic() + timeout_s
        while self.forwarded < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the proxy handed on {self.forwarded} of {count} requests")
            time.sleep(0.02)

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._forward(b"")

    def do_POST(self) -> None:
        self._forward(self.rfile.read(int(self.headers.get("Content-Length", 0))))

    def _forward(self, body: bytes) -> None:
        proxy: CountingProxy = self.server.owner  # type: ignore[attr-defined]
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        upstream = http.client.HTTPConnection(HOST, proxy.upstream_port, timeout=120)
        try:
            upstream.request(self.command, self.path, body=body or None, headers=headers)
            if self.command == "POST":
                proxy.count()
            answer = upstream.getresponse()
            data = answer.read()
        except (OSError, http.client.HTTPException):
            self.close_connection = True  # the server is gone: hang up, as it did
            return
        finally:
            upstream.close()
        try:
            self.send_response(answer.status)
            for key, value in answer.getheaders():
                if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
