"""One indexing run in a child process with a fault hook, for the crash-safety and locking tests.

    python tests/faulty_index.py          (configured by ASSISTANT_* like `usmca-assistant index`)

The hook is chosen by INDEX_FAULTS, read here only (production code reads no test switches):
comma-separated `kill@STAGE` (SIGKILL this process when the run reaches STAGE), `sleep@STAGE=SECONDS`
(pause there), `wait@STAGE=FILE` (pause there until FILE exists). When INDEX_STAGES names a file,
every stage reached is appended to it and fsynced before the fault acts, so a test can prove where
the run was when it died. Exit status: 0 indexed, 1 some files failed, 3 busy.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.index.hooks import STAGES  # noqa: E402
from assistant.index.indexer import IndexBusy, Indexer  # noqa: E402
from assistant.settings import get_settings  # noqa: E402


def parse_faults(spec: str) -> dict[str, tuple[str, str]]:
    """`kill@journaled,sleep@locked=4` -> {stage: (action, argument)}."""
    out = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        action, _, rest = item.partition("@")
        stage, _, arg = rest.partition("=")
        if action not in ("kill", "sleep", "wait") or stage not in STAGES:
            raise SystemExit(f"bad INDEX_FAULTS item {item!r}: ACTION@STAGE[=ARG], stages {', '.join(STAGES)}")
        out[stage] = (action, arg)
    return out


def make_hook(faults: dict[str, tuple[str, str]], log: Path | None):
    def hook(stage: str) -> None:
        if log is not None:
            with open(log, "a", encoding="utf-8") as f:
                f.write(stage + "\n")
                f.flush()
                os.fsync(f.fileno())
        action, arg = faults.get(stage, ("", ""))
        if action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif action == "sleep":
            time.sleep(float(arg or 5))
        elif action == "wait":
            while not Path(arg).exists():
                time.sleep(0.05)

    return hook


def main() -> int:
    log = os.environ.get("INDEX_STAGES")
    hook = make_hook(parse_faults(os.environ.get("INDEX_FAULTS", "")), Path(log) if log else None)
    try:
        report = Indexer(get_settings(), faults=hook).run()
    except IndexBusy as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    for path, reason in report.errors.items():
        print(f"error: {path}: {reason}", file=sys.stderr)
    print(f"indexed {len(report.indexed)}, removed {len(report.removed)}")
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
