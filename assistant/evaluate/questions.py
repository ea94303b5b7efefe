"""Question files (JSON Lines, format in docs/evaluation.md) read into typed records.

A question file is edited by hand, so one bad line must never cost the whole run: every problem is
reported as a `LineError` with its 1-based line number and the good lines are still returned.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Kinds the README defines. Other kinds are kept as written (so reports group by them) but any
# behaviour that depends on the kind treats them like "fact".
KNOWN_KINDS = ("fact", "number", "recommendation", "reasoning", "citation", "unanswerable")


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    kind: str = "fact"
    answerable: bool = True
    answer: str = ""
    must_mention: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    footnotes: tuple[int, ...] = ()
    section: str = ""
    articles: tuple[str, ...] = ()
    documents: tuple[str, ...] = ()
    history: tuple[str, ...] = ()  # earlier user turns of a conversation, oldest first

    @property
    def is_followup(self) -> bool:
        return bool(self.history)

    @property
    def logic_kind(self) -> str:
        """The kind to act on: unknown kinds behave like "fact" (README)."""
        return self.kind if self.kind in KNOWN_KINDS else "fact"


@dataclass(frozen=True)
class LineError:
    line: int  # 1-based line number in the file
    reason: str
    text: str = ""  # the start of the offending line, to find it quickly


class _Bad(ValueError):
    """A field failed validation; the message is the reason shown to the user."""


def _opt_str(d: dict[str, Any], key: str) -> str:
    v = d.get(key)
    if v is None:
        return ""
    if not isinstance(v, str):
        raise _Bad(f"field '{key}' must be a string, got {type(v).__name__}")
    return v


def _str_list(d: dict[str, Any], key: str) -> tuple[str, ...]:
    v = d.get(key)
    if v is None:
        return ()
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise _Bad(f"field '{key}' must be a list of strings")
    return tuple(v)


def _turns(d: dict[str, Any], key: str) -> tuple[str, ...]:
    """A conversation's earlier user turns: a list of non-empty strings (an empty list is no history)."""
    turns = _str_list(d, key)
    if any(not t.strip() for t in turns):
        raise _Bad(f"field '{key}' must be a list of non-empty strings (the earlier user turns)")
    return tuple(t.strip() for t in turns)


def _int_list(d: dict[str, Any], key: str) -> tuple[int, ...]:
    v = d.get(key)
    if v is None:
        return ()
    # bool is a subclass of int in Python but `true` is never a footnote number.
    if not isinstance(v, list) or not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
        raise _Bad(f"field '{key}' must be a list of integers")
    return tuple(v)


def parse_question(d: Any) -> Question:
    """One decoded JSON value to a Question; raises ValueError with a readable reason.

    Fields that are absent or null take their default; unknown fields are ignored.
    """
    if not isinstance(d, dict):
        raise _Bad(f"expected a JSON object, got {type(d).__name__}")
    for key in ("id", "question"):
        if key not in d or d[key] is None:
            raise _Bad(f"missing required field '{key}'")
        if not isinstance(d[key], str) or not d[key].strip():
            raise _Bad(f"field '{key}' must be a non-empty string")
    kind = _opt_str(d, "kind").strip() or "fact"
    answerable = d.get("answerable")
    if answerable is None:
        answerable = kind != "unanswerable"
    elif not isinstance(answerable, bool):
        raise _Bad(f"field 'answerable' must be true or false, got {type(answerable).__name__}")
    return Question(
        id=d["id"].strip(),
        question=d["question"].strip(),
        kind=kind,
        answerable=answerable,
        answer=_opt_str(d, "answer"),
        must_mention=_str_list(d, "must_mention"),
        evidence=_str_list(d, "evidence"),
        footnotes=_int_list(d, "footnotes"),
        section=_opt_str(d, "section"),
        articles=_str_list(d, "articles"),
        documents=_str_list(d, "documents"),
        history=_turns(d, "history"),
    )


def load_questions(path: str | Path) -> tuple[list[Question], list[LineError]]:
    """Read a question file; returns the good questions in file order and one error per bad line.

    Blank lines are skipped silently. A UTF-8 byte-order mark is tolerated. A repeated id is an
    error on the later line (the first occurrence wins). A missing file raises OSError.
    """
    raw = Path(path).read_bytes()
    questions: list[Question] = []
    errors: list[LineError] = []
    seen: dict[str, int] = {}
    for lineno, bline in enumerate(raw.split(b"\n"), start=1):
        try:
            line = bline.decode("utf-8")
        except UnicodeDecodeError as e:
            errors.append(LineError(lineno, f"not valid UTF-8 ({e.reason} at byte {e.start})"))
            continue
        line = line.lstrip("\ufeff").strip()
        if not line:
            continue
        snippet = line[:80]
        try:
            data = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(LineError(lineno, f"invalid JSON: {e.msg} (column {e.colno})", snippet))
            continue
        try:
            q = parse_question(data)
        except _Bad as e:
            errors.append(LineError(lineno, str(e), snippet))
            continue
        if q.id in seen:
            errors.append(LineError(lineno, f"duplicate id '{q.id}' (first on line {seen[q.id]})", snippet))
            continue
        seen[q.id] = lineno
        questions.append(q)
    return questions, errors
