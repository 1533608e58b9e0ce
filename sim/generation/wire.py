"""One answer from a server that may misbehave: read within a deadline and within a byte cap.

httpx bounds each network operation, not a request: a server that drips one
byte a second never trips a read timeout, and ``response.json()`` reads a body
whole, however large it is or however far its gzip inflates. So:

* ``attempt_deadline`` sets one deadline for everything its thread sends and
  reads (connecting, sending, waiting for headers, reading the body). A network
  backend under httpx's transport (``deadline_client``) holds every connect,
  write and read to the time left; past it the operation times out, httpx
  closes the connection and the thread is free.
* ``fetch`` reads a body streamed, as raw bytes, and inflates gzip or deflate
  itself with ``zlib`` and a ``max_length``, so a bomb is cut after at most one
  chunk past the cap. A body over its cap (``answer_cap``: a generous size per
  token the request allows, plus room for the JSON envelope), inflating more
  than ``MAX_INFLATION``-fold, or in another encoding is a ``WireFault``; a
  declared ``Content-Length`` over the cap is refused before reading.

The client goes straight to the servers it is given: with its own transport,
httpx no longer reads proxy settings from the environment.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

__all__ = ["ERROR_BODY_BYTES", "MAX_INFLATION", "MODELS_BYTES", "WireFault", "answer_cap", "attempt_deadline",
           "deadline_client", "fetch"]

BYTES_PER_TOKEN = 64  # a long token, JSON-escaped (\uXXXX, surrogate pairs), still fits
ENVELOPE_BYTES = 256 * 1024  # the JSON around the text: ids, usage, whatever fields a server adds
ERROR_BODY_BYTES = 16 * 1024  # a refusal's body is read for its message only; the rest is left unread
MODELS_BYTES = 4 * 1024 * 1024  # GET /v1/models: thousands of models (adapters included) fit
MAX_INFLATION = 200  # decoded bytes per received byte, past the first INFLATION_GRACE bytes (JSON: ~5-20)
INFLATION_GRACE = 1024 * 1024
KEEPALIVE_S = 5.0  # httpx's default: an idle connection is closed after this long
ACCEPTED_ENCODINGS = "gzip, deflate"  # not httpx's default, which adds br and zstd when they are installed


class WireFault(Exception):
    """An answer broke a bound: too slow, over its byte cap, inflating too far, or in an encoding not read here."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def answer_cap(max_tokens: int) -> int:
    """The most bytes a completion's answer may take once decoded: ``256 KiB + 64 bytes x max_tokens``."""
    return ENVELOPE_BYTES + BYTES_PER_TOKEN * max(int(max_tokens), 0)


# ----- one deadline for everything a thread sends and reads -----

_deadline = threading.local()


@contextmanager
def attempt_deadline(seconds: float) -> Iterator[None]:
    """Hold every network operation of this thread inside the block to ``seconds`` from now, all together."""
    outer = getattr(_deadline, "set", None)
    mine = (time.monotonic() + seconds, seconds)
    _deadline.set = mine if outer is None or mine[0] < outer[0] else outer
    try:
        yield
    finally:
        _deadline.set = outer


def _time_left(timeout: float | None, late: type[httpcore.TimeoutException]) -> float | None:
    """``timeout`` cut to what is left of the thread's deadline; ``late`` raised once none is left."""
    deadline = getattr(_deadline, "set", None)
    if deadline is None:
        return timeout
    left = deadline[0] - time.monotonic()
    if left <= 0:
        raise late("past the attempt's deadline")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream):
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname,
                                                      _time_left(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)  # the pool asks whether an idle connection is still good


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's own sockets, every one held to its thread's deadline."""

    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._backend.connect_tcp(host, port, _time_left(timeout, httpcore.ConnectTimeout),
                                                         local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._backend.connect_unix_socket(
            path, _time_left(timeout, httpcore.ConnectTimeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def deadline_client(timeout_s: float, *, max_connections: int) -> httpx.Client:
    """An httpx client whose connections keep ``attempt_deadline`` (each operation also to ``timeout_s``).

    httpx's transport takes no network backend, so its connection pool (the
    ``_pool`` its requests go through: tests/test_dependency_contracts.py) is
    replaced by one built with ours and the same limits.
    """
    transport = httpx.HTTPTransport()
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(), max_connections=max_connections,
        max_keepalive_connections=max_connections, keepalive_expiry=KEEPALIVE_S, network_backend=_DeadlineBackend())
    return httpx.Client(headers={"Accept-Encoding": ACCEPTED_ENCODINGS}, transport=transport,
                        timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)))


# ----- reading a body within its cap -----

def fetch(client: httpx.Client, method: str, url: str, *, cap: int, json: Any = None, **sends: Any) -> tuple[int, str]:
    """Send a request (``sends``: more of httpx's request arguments) and read its answer: (status, body as text).

    A success's body is read up to ``cap`` (more is a WireFault), a client
    error's up to ERROR_BODY_BYTES (cut there: it is read for its message),
    a server error's not at all. Leaving a body unread closes the connection.
    Timing out is a WireFault too; other network errors are httpx's.
    """
    try:
        with client.stream(method, url, json=json, **sends) as response:
            status = response.status_code
            if status >= 500:
                return status, ""
            limit, cut = (ERROR_BODY_BYTES, True) if status >= 400 else (cap, False)
            return status, _read(response, limit, url, cut).decode(errors="replace")  # JSON is UTF-8
    except httpx.TimeoutException:
        deadline = getattr(_deadline, "set", None)
        within = deadline[1] if deadline else client.timeout.read
        raise WireFault(f"no complete answer from {url} within {within:g}s") from None


def _read(response: httpx.Response, cap: int, url: str, cut: bool = False) -> bytes:
    declared = response.headers.get("content-length", "")
    if not cut and declared.strip().isdigit() and int(declared) > cap:
        raise WireFault(f"an answer of {int(declared)} bytes from {url}, over the {cap}-byte cap")
    if response.is_stream_consumed:  # an in-memory body (httpx.MockTransport): already read and decoded
        inflater, chunks = _Inflater("", url), iter([response.content])
    else:  # as it comes: one network read (at most 64 KiB) at a time
        inflater, chunks = _Inflater(response.headers.get("content-encoding", ""), url), response.iter_raw()
    body, received = bytearray(), 0
    for chunk in chunks:
        received += len(chunk)
        body += inflater.inflate(chunk, cap + 1 - len(body))
        if len(body) > cap or received > cap:
            if cut:
                return bytes(body[:cap])
            raise WireFault(f"an answer over {cap} bytes from {url}")
        if len(body) > INFLATION_GRACE and len(body) > MAX_INFLATION * received:
            raise WireFault(f"an answer inflating over {MAX_INFLATION}-fold from {url}")
    if not cut:
        inflater.check_complete()
    return bytes(body)


class _Inflater:
    """Content-Encoding undone by hand, producing no more than it is allowed per chunk."""

    def __init__(self, encoding: str, url: str):
        self.encoding, self.url = encoding.strip().lower(), url
        if self.encoding in ("", "identity"):
            self._zlib = None
        elif self.encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self.encoding == "deflate":
            self._zlib = zlib.decompressobj()
        else:
            raise WireFault(f"an answer in the encoding {self.encoding[:40]!r} from {url}, not {ACCEPTED_ENCODINGS}")
        self._started = False

    def inflate(self, chunk: bytes, room: int) -> bytes:
        """At most about ``room`` bytes of ``chunk`` decoded (an identity chunk comes back whole: it is no bigger)."""
        if self._zlib is None:
            return chunk
        try:
            out = bytearray(self._zlib.decompress(chunk, max(room, 1)))
        except zlib.error:
            if self._started or self.encoding != "deflate":
                raise WireFault(f"an answer that is not valid {self.encoding} from {self.url}") from None
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)  # "deflate" without its zlib header, as some send
            return self.inflate(chunk, room)
        self._started = True
        while self._zlib.unconsumed_tail and len(out) < room:
            out += self._zlib.decompress(self._zlib.unconsumed_tail, room - len(out))
        return bytes(out)

    def check_complete(self) -> None:
        if self._zlib is not None and not self._zlib.eof:
            raise WireFault(f"a {self.encoding} answer from {self.url} that stops midway")
