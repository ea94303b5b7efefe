"""What an indexing run tells the outside world while it works: progress, and the stages it reaches.

`Faults` is how tests make a run fail, pause or die at a precise point (the crash-safety and
locking tests pass one in); production runs pass none and every stage call does nothing.
"""

from __future__ import annotations

from typing import Protocol

# The points of a run a fault hook is called at, in order ("upsert_batch" after each upsert step of
# the MiniLM collection, "multilingual_batch" after each of the multilingual collection's).
STAGES = ("locked", "journaled", "upsert_batch", "multilingual_batch", "upserted", "generation", "committed",
          "cleaned")


class Progress(Protocol):
    def stage(self, name: str, total: int) -> None: ...
    def advance(self, n: int = 1) -> None: ...


class NoProgress:
    def stage(self, name: str, total: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass


class Faults(Protocol):
    """Called with the name of each stage (`STAGES`) when a run reaches it. May raise, sleep or
    kill the process: the run's crash safety must hold whatever it does."""

    def __call__(self, stage: str) -> None: ...


def no_faults(stage: str) -> None:
    """The production hook: nothing happens at any stage."""
