"""One conversation in one browser session: the turns asked and answered so far.

Kept in `st.session_state` (per browser tab), so two negotiators never see each other's questions;
plain data so export and feedback can be unit-tested without Streamlit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from assistant.answer.conversation import UNDERSTOOD
from assistant.domain import Answer


@dataclass
class Turn:
    question: str
    answer: Answer
    kinds: list[str] = field(default_factory=list)  # filters the question was asked with
    documents: list[str] = field(default_factory=list)
    backend: str = ""  # the backend asked for (the answer says which one answered)
    asked_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])  # stable widget keys
    feedback: dict | None = None  # the record written, once the user sent feedback
    detail: Answer | None = None  # the longer answer, once "More detail" was asked for
    standalone: bool = False  # asked as a corrected standalone question: no history was used

    @property
    def understood(self) -> str:
        """The standalone question the turn was answered as."""
        return self.answer.standalone_question or self.question


def history(turns: list[Turn]) -> list[tuple[str, str]]:
    """The (role, text) pairs a follow-up question is understood against: each question, the
    standalone question it was understood as (which the next follow-up builds on), the answer."""
    out: list[tuple[str, str]] = []
    for t in turns:
        out.append(("user", t.question))
        out.append((UNDERSTOOD, t.understood))
        out.append(("assistant", t.answer.text))
    return out
