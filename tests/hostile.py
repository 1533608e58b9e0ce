"""A hostile OpenAI-compatible server on 127.0.0.1: one misbehaviour on every request, chosen by ``mode``.

It speaks raw HTTP/1.1 over sockets, so it can do what a polite server library
will not: lie in Content-Length, drip headers, send bodies that never end. Big
bodies are generated as they are sent (a gzip bomb inflating to a GiB is a few
hundred KiB on the wire, made chunk by chunk), so the server never holds them,
and it stops as soon as the client hangs up. GET /v1/models answers normally
(the backend's health check passes) except in the ``*-models`` modes.
"""

from __future__ import annotations

import json
import socket
import threading
import zlib
from collections.abc import Iterator

HOST = "127.0.0.1"
MB = 1024 * 1024
POST_MODES = ("gzip-bomb", "deflate-bomb", "endless", "huge", "length-lie", "drip-body", "drip-headers", "silent",
              "huge-400", "huge-422", "huge-500", "brotli", "slow-refusal", "cut-gzip")
COMPRESSED = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS, "raw-deflate": -zlib.MAX_WBITS}
POLITE_MODES = tuple(f"polite-{name}" for name in COMPRESSED)  # a normal answer, compressed as a proxy might
GUIDED_FIELDS = ("structured_outputs", "guided_choice", "grammar", "regex", "response_format")
MODELS_MODES = ("huge-models", "drip-models")


def answer_json(text: str = "hello world") -> bytes:
    return json.dumps({"object": "text_completion", "choices": [{"index": 0, "text": text}],
                       "usage": {"prompt_tokens": 1, "completion_tokens": 2}}).encode()


def _zeros(total: int, block: int = MB) -> Iterator[bytes]:
    for start in range(0, total, block):
        yield bytes(min(block, total - start))


def _compressed(total: int, wbits: int) -> Iterator[bytes]:
    """``total`` zero bytes, compressed as they are asked for: a bomb never held whole."""
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    for block in _zeros(total):
        yield packer.compress(block) + packer.flush(zlib.Z_SYNC_FLUSH)  # on the wire at once, as a streamer would
    yield packer.flush()


def _padded_answer(total: int) -> Iterator[bytes]:
    """A valid completion whose text is ``total`` bytes of "a"."""
    head, tail = answer_json("TEXT").split(b"TEXT")
    yield head
    for block in _zeros(total):
        yield b"a" * len(block)
    yield tail


class HostileServer:
    """Answers every POST /v1/completions (or GET /v1/models, in the ``*-models`` modes) with ``mode``.

    ``size`` is how big a big body is (decoded), ``drip_s`` the pause between
    dripped bytes. ``requests`` counts the requests read, by path.
    """

    def __init__(self, mode: str, *, size: int = 50 * MB, drip_s: float = 0.2, model: str = "tiny"):
        if mode not in POST_MODES + MODELS_MODES + POLITE_MODES:
            raise ValueError(f"unknown mode {mode!r}")
        self.mode, self.size, self.drip_s, self.model = mode, size, drip_s, model
        self.requests: list[str] = []
        self._stopping = threading.Event()
        self._listener = socket.create_server((HOST, 0))
        self._listener.settimeout(0.05)
        self._thread = threading.Thread(target=self._accept, name=f"hostile-{mode}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._listener.getsockname()[1]}/v1"

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                path = self._read_request(conn)
                if path is not None:
                    self.requests.append(path)
                    self._misbehave(conn, path)
            except OSError:  # the client hung up: what a client that protects itself does
                pass

    def _read_request(self, conn: socket.socket) -> str | None:
        conn.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        length = next((int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")), 0)
        while len(body) < length:
            body += conn.recv(65536)
        return lines[0].split(" ")[1]

    def _misbehave(self, conn: socket.socket, path: str) -> None:
        mode = self.mode
        if path.endswith("/models"):
            models = json.dumps({"object": "list", "data": [{"id": self.model}]}).encode()
            if mode == "huge-models":  # a valid list with the model in it, and ``size`` bytes of others
                pad = b"," + json.dumps({"id": "x" * 1000}).encode()
                parts = [b'{"object": "list", "data": [', json.dumps({"id": self.model}).encode(),
                         *[pad] * (self.size // len(pad)), b"]}"]
                self._send(conn, 200, iter(parts), length=sum(map(len, parts)))
            elif mode == "drip-models":
                self._send(conn, 200, self._drip(models), length=len(models))
            else:
                self._send(conn, 200, iter([models]), length=len(models))
            return
        if mode == "gzip-bomb":
            self._send(conn, 200, _compressed(self.size, 16 + zlib.MAX_WBITS), encoding="gzip")
        elif mode == "deflate-bomb":
            self._send(conn, 200, _compressed(self.size, zlib.MAX_WBITS), encoding="deflate")
        elif mode == "endless":
            self._send(conn, 200, self._endless())
        elif mode == "huge":
            self._send(conn, 200, _padded_answer(self.size), length=self.size + len(answer_json("")))
        elif mode == "length-lie":  # claims a body bigger than any answer, then sends nothing
            self._send(conn, 200, self._never(), length=10 ** 12)
        elif mode == "drip-body":
            self._send(conn, 200, self._drip(answer_json()), length=len(answer_json()))
        elif mode == "drip-headers":
            for byte in self._drip(b"HTTP/1.1 200 OK\r\n" + b"X-Drip: 1\r\n" * 10 ** 6):
                conn.sendall(byte)
        elif mode == "silent":
            self._never_ending_wait()
        elif mode in ("huge-400", "huge-422", "huge-500"):
            self._send(conn, int(mode[-3:]), (b"x" * len(block) for block in _zeros(self.size)), length=self.size)
        elif mode == "slow-refusal":  # after drip_s, refuses whatever guided field the request used
            if not self._stopping.wait(self.drip_s):
                refusal = json.dumps({"error": {"message": f"unknown parameters: {', '.join(GUIDED_FIELDS)}"}})
                self._send(conn, 400, iter([refusal.encode()]), length=len(refusal))
        elif mode in POLITE_MODES or mode == "cut-gzip":
            name = mode.removeprefix("polite-").replace("cut-", "")
            packed = zlib.compress(answer_json(), wbits=COMPRESSED[name])
            packed = packed[:len(packed) // 2] if mode == "cut-gzip" else packed  # stops midway, length honest
            self._send(conn, 200, iter([packed]), length=len(packed), encoding=name.replace("raw-", ""))
        elif mode == "brotli":  # an encoding the client did not ask for
            self._send(conn, 200, iter([b"\x1b\x03\x00\xf8\xa5\x00"]), length=6, encoding="br")

    def _send(self, conn: socket.socket, status: int, body: Iterator[bytes], *, length: int | None = None,
              encoding: str | None = None) -> None:
        head = [f"HTTP/1.1 {status} Hostile", "Content-Type: application/json", "Connection: close"]
        head.append(f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked")
        if encoding:
            head.append(f"Content-Encoding: {encoding}")
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        for piece in body:
            if self._stopping.is_set():
                return
            if piece:
                conn.sendall(piece if length is not None else b"%x\r\n%s\r\n" % (len(piece), piece))
        if length is None:
            conn.sendall(b"0\r\n\r\n")

    def _drip(self, data: bytes) -> Iterator[bytes]:
        for index in range(len(data)):
            if self._stopping.wait(self.drip_s):
                return
            yield data[index:index + 1]

    def _endless(self) -> Iterator[bytes]:
        yield answer_json("")[:-40]
        while not self._stopping.is_set():
            yield b"a" * 65536

    def _never(self) -> Iterator[bytes]:
        self._never_ending_wait()
        yield b""

    def _never_ending_wait(self) -> None:
        self._stopping.wait()
