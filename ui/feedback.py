"""Thumbs up/down on an answer, appended to `settings.feedback_file` as one JSON line.

Appending one line per record with a single write keeps concurrent sessions from interleaving
records; the file is created with its folder on first use.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.domain import Answer

RATINGS = {0: "down", 1: "up"}  # st.feedback("thumbs") returns 0 for 👎 and 1 for 👍


def feedback_record(question: str, answer: Answer, rating: int, comment: str = "",
                    *, now: datetime | None = None) -> dict[str, Any]:
    if rating not in RATINGS:
        raise ValueError(f"rating must be 0 (down) or 1 (up), got {rating!r}")
    return {
        "timestamp": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "question": question,
        "standalone_question": answer.standalone_question or question,
        "answer": answer.text,
        "abstained": answer.abstained,
        "backend": answer.backend,
        "citations": [
            {"number": c.number, "chunk_id": c.chunk_id, "document_id": c.document_id,
             "location": c.location, "quote": c.quote}
            for c in answer.citations
        ],
        "rating": RATINGS[rating],
        "comment": comment.strip(),
    }


def append_feedback(path: Path, record: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
