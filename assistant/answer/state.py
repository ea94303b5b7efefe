"""What one question carries through answering: the analysis (made once), the backend and its chat
model, warnings and timings; and the evidence retrieval found for it with the refusal decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from assistant.answer.abstain import Decision
from assistant.domain import ScoredChunk
from assistant.index.store import Snapshot
from assistant.retrieve.analysis import QueryAnalysis
from assistant.retrieve.hybrid import Retrieval

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel


@dataclass
class AskedQuestion:
    """One question on its way through the pipeline: analysed once, read by every later step."""

    analysis: QueryAnalysis
    backend: str
    model: BaseChatModel | None
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    started: float = 0.0
    detail: bool = False  # the longer answer instead of the short one

    @property
    def question(self) -> str:
        return self.analysis.question

    @property
    def standalone(self) -> str:
        return self.analysis.text


@dataclass
class Evidence:
    """What retrieval found for a question, its sentence candidates and the refusal decision."""

    retrieval: Retrieval
    candidates: list
    decision: Decision

    @property
    def retrieved(self) -> list[ScoredChunk]:
        return self.retrieval.chunks

    @property
    def snap(self) -> Snapshot:
        return self.retrieval.snapshot
