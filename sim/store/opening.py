"""What is checked before an event store is opened, so that opening it never changes a file it must not.

SQLite keeps a store's latest commits in its write-ahead log (``x.db-wal``),
indexed by ``x.db-shm``, until a checkpoint copies them into ``x.db``
(``sim.store.checkpoints``). A log that went missing, was cut short or was
overwritten is passed over in silence: a reader sees an older state (a
read-only open even creates an empty log in place of a missing one) and a
writer goes on from there and overwrites the log, so the commits in it could
never be brought back. ``check_log`` compares the index's header with the log
(a few hundred bytes, before any SQLite connection) and refuses such a store in
one line; the files are left exactly as they were.

Limit: only the last committed frame's checksum is checked (a page of work):
garbage written into the middle of the log is not seen, and SQLite then keeps
the commits before it.
"""

from __future__ import annotations

import sqlite3
import struct
import time
from dataclasses import dataclass
from pathlib import Path

from agentville.sim.core.errors import UserError

WAL_MAGIC = (0x377F0682, 0x377F0683)
WAL_HEADER = 32  # bytes; then frames of a 24-byte header and one page
FRAME_HEADER = 24
INDEX_HEADER = struct.Struct("=IIIBBHII8s8s8s")  # the wal-index header, in the machine's byte order
INDEX_VERSION = 3007000
BACKFILL_AT = 96  # the count of log frames already copied into the main file, after two copies of the header
SCHEMA_PAGE = 100  # the schema's b-tree page starts after the file header, on page 1
SCHEMA_CELLS = SCHEMA_PAGE + 3  # its count of entries, two bytes
LEAF_TABLE_PAGE = 0x0D
READS = 5  # tries for a steady view of the index while a writer commits


class NotAStore(sqlite3.DatabaseError):
    """The file is not an Agentville event store (another program's SQLite file, or not SQLite at all)."""


class DamagedLog(UserError, sqlite3.DatabaseError):
    """The store's write-ahead log is missing or damaged, or its main file was copied without it; nothing changed."""


def sqlite_uri(path: Path, mode: str) -> str:
    """A ``file:`` URI for ``path`` that survives ``#``, ``?`` and ``%`` in it (they are percent-encoded)."""
    return f"{path.resolve().as_uri()}?mode={mode}"


def refuse_foreign(path: Path) -> None:
    """Raise ``NotAStore`` for an existing file that is not empty and not an event store; it is left as it was."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    probe = sqlite3.connect(sqlite_uri(path, "ro"), uri=True)
    try:
        tables = {name for (name,) in probe.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        raise NotAStore(f"{path} is not an SQLite file ({exc}); nothing was changed") from None
    finally:
        probe.close()
    if tables and not {"runs", "events"} <= tables:
        raise NotAStore(f"{path} is another program's SQLite file (tables: {', '.join(sorted(tables))}), "
                        f"not an Agentville event store; nothing was changed")


def refuse_shell(path: Path) -> None:
    """Raise ``DamagedLog`` for a main file without tables and no log that could hold them, before SQLite opens it.

    That is an empty file, or the main file of a live store copied without its
    log (the old writer kept everything there). Read from the file's first page:
    a read-only open would put an empty log and index beside it.
    """
    log = log_path(path)
    if log.is_file() and log.stat().st_size > 0:
        return  # the tables may be in the log: SQLite reads them there
    with path.open("rb") as file:
        head = file.read(SCHEMA_CELLS + 2)
    schema_empty = head[:16] == b"SQLite format 3\0" and len(head) == SCHEMA_CELLS + 2 \
        and head[SCHEMA_PAGE] == LEAF_TABLE_PAGE and head[SCHEMA_CELLS:] == b"\0\0"
    if not head or schema_empty:
        raise DamagedLog(f"{path} holds no tables: it is empty, or a copy of a live store's main file made without "
                         f"its write-ahead log (its rows were all in {log.name}); copy the .db together with its "
                         f"-wal and -shm")


def log_path(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


def index_path(path: Path) -> Path:
    return path.with_name(path.name + "-shm")


@dataclass(frozen=True)
class Index:
    """What ``x.db-shm`` says about the log: its frames, how many are in the main file, the salts and last checksum."""

    frames: int
    copied: int
    page: int
    salts: bytes
    last_checksum: tuple[int, int]

    @property
    def log_end(self) -> int:
        """Where the last committed frame ends in the log."""
        return WAL_HEADER + self.frames * (FRAME_HEADER + self.page)


def read_index(path: Path) -> tuple[bytes, Index | None]:
    """The raw header of the index and what it says (None: no index, or not a valid one)."""
    try:
        with index_path(path).open("rb") as file:
            raw = file.read(BACKFILL_AT + 4)
    except OSError:
        return b"", None
    if len(raw) < BACKFILL_AT + 4 or raw[:48] != raw[48:96]:
        return raw, None
    version, _, _, is_init, _, size, frames, _, checksum, salts, _ = INDEX_HEADER.unpack(raw[:48])
    if version != INDEX_VERSION or not is_init:
        return raw, None
    (copied,) = struct.unpack("=I", raw[BACKFILL_AT:])
    page = (size & 0xFE00) + ((size & 1) << 16)
    return raw, Index(frames, copied, page, salts, struct.unpack("=II", checksum))


def log_fault(path: Path, index: Index | None) -> str | None:
    """What is wrong with the log given what the index says (None: nothing a reader or writer would lose)."""
    log = log_path(path)
    try:
        with log.open("rb") as file:
            header = file.read(WAL_HEADER)
            size = file.seek(0, 2)
            frames = b""
            if index is not None and index.frames and size >= index.log_end:
                start = index.log_end - min(2, index.frames) * (FRAME_HEADER + index.page)
                file.seek(start)
                frames = file.read(index.log_end - start)
    except FileNotFoundError:
        return f"its write-ahead log {log.name} is missing" if index is not None and index.frames > index.copied \
            else None
    valid = len(header) == WAL_HEADER and struct.unpack(">I", header[:4])[0] in WAL_MAGIC
    if index is None:  # after a crash, or copied without it: SQLite will pass over a log that is not one
        return None if size == 0 or valid else f"its write-ahead log {log.name} was overwritten: it is not one"
    if index.frames <= index.copied:  # the main file holds every committed frame: the log holds nothing to lose
        return None
    if size < index.log_end:
        return f"its write-ahead log {log.name} is cut short: {size} bytes, its commits run to byte {index.log_end}"
    if not valid or header[16:24] != index.salts or not last_frame_whole(header, frames, index):
        return f"its write-ahead log {log.name} was overwritten: it does not match {index_path(path).name}"
    return None


def last_frame_whole(header: bytes, frames: bytes, index: Index) -> bool:
    """The last committed frame has the log's salts and the checksum the index recorded, over its page as it is now.

    ``frames`` ends with that frame; before it, the previous frame (whose checksum
    this one's continues), or the log's header when it is the first.
    """
    last = frames[-(FRAME_HEADER + index.page):]
    before = frames[-2 * (FRAME_HEADER + index.page):-(FRAME_HEADER + index.page)]
    start = before[16:24] if before else header[24:32]
    words = f"{'>' if header[3] & 1 else '<'}{(8 + index.page) // 4}I"
    total = checksum(struct.unpack(">II", start), struct.unpack(words, last[:8] + last[FRAME_HEADER:]))
    stored = struct.unpack(">II", last[16:24])
    return last[8:16] == index.salts and stored == index.last_checksum == total


def checksum(start: tuple[int, int], words: tuple[int, ...]) -> tuple[int, int]:
    """SQLite's write-ahead log checksum of ``words``, continuing from ``start``."""
    s1, s2 = start
    for i in range(0, len(words), 2):
        s1 = (s1 + words[i] + s2) & 0xFFFFFFFF
        s2 = (s2 + words[i + 1] + s1) & 0xFFFFFFFF
    return s1, s2


def check_log(path: Path) -> None:
    """Raise ``DamagedLog`` for a store whose write-ahead log lost commits the main file does not hold.

    A writer may commit or checkpoint between the reads, so a fault counts only
    when the index read before and after it is the same.
    """
    for _ in range(READS):
        raw, index = read_index(path)
        fault = log_fault(path, index)
        if fault is None:
            return
        if read_index(path)[0] == raw:
            pending = "" if index is None else f"; up to {(index.frames - index.copied) * index.page // 1024} KiB " \
                                               f"of commits in it are not in {path.name} yet"
            raise DamagedLog(f"{path}: {fault}{pending}; nothing was changed: copy {path.name} together with its "
                             f"-wal and -shm from where they were written, or move {index_path(path).name} and "
                             f"{log_path(path).name} aside to open only what {path.name} holds")
        time.sleep(0.001)
