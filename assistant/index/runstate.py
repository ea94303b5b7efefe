"""The writer's record (who is writing the index, so a second writer and `doctor` can say so) and
the write-ahead journal (every vector id a run may add or orphan, written before Chroma is touched,
so a crash can be cleaned up)."""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.index.store import JOURNAL, WRITER, atomic_write_text, fsync_dir


def write_writer_record(index_dir: Path, command: str) -> None:
    record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
    }
    atomic_write_text(Path(index_dir) / WRITER, json.dumps(record))


def read_writer_record(index_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((Path(index_dir) / WRITER).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None


def clear_writer_record(index_dir: Path) -> None:
    (Path(index_dir) / WRITER).unlink(missing_ok=True)


def writer_alive(record: dict[str, Any] | None) -> bool:
    """Whether the process a writer record names still runs (unknown hosts count as alive)."""
    if not record:
        return False
    if record.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(record["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, KeyError, TypeError):
        return True
    return True


def describe_writer(record: dict[str, Any] | None) -> str:
    if not record:
        return "another process"
    return f"process {record.get('pid')} on {record.get('host')} (`{record.get('command', '?')}`, since {record.get('started')})"


def write_journal(index_dir: Path, ids: set[str]) -> None:
    """Record, before touching Chroma, every vector id this run may add or make unreferenced."""
    atomic_write_text(Path(index_dir) / JOURNAL, json.dumps({"ids": sorted(ids)}))


def read_journal(index_dir: Path) -> set[str] | None:
    try:
        data = json.loads((Path(index_dir) / JOURNAL).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:
        return set()  # a torn journal can only come from before any vector was touched
    return set(data.get("ids", []))


def clear_journal(index_dir: Path) -> None:
    (Path(index_dir) / JOURNAL).unlink(missing_ok=True)
    fsync_dir(Path(index_dir))
