"""The conversation export (Markdown for a memo) and the feedback records, on real answers."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime

import markdown_it
import pytest

from assistant.domain import SourceRef
from ui.chat_state import Turn, history
from ui.export import conversation_markdown, export_filename, note_text
from ui.feedback import append_feedback, feedback_record

WHEN = datetime(2026, 3, 1, 14, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def turns(brief_assistant) -> list[Turn]:
    first = brief_assistant.ask("How much did U.S.-Mexico trade total in 2024?")
    second = brief_assistant.ask("What is the population of Australia's capital city?")
    third = brief_assistant.ask("How much did U.S.-Mexico trade total in 2024?")  # the same passages again
    return [Turn(first.question, first), Turn(second.question, second, kinds=["brief"]), Turn(third.question, third)]


def test_export_numbers_notes_across_the_conversation(turns):
    md = conversation_markdown(turns, exported_at=WHEN)
    assert md.startswith("# USMCA Review Assistant: conversation\n")
    assert "Exported 2026-03-01 14:30 UTC." in md
    assert "## 1. How much did U.S.-Mexico trade total in 2024?" in md
    assert "## 2. What is the population of Australia's capital city?" in md
    first = turns[0].answer
    notes = re.findall(r"(?m)^\[\^(\d+)\]: (.+)$", md)
    # one note per distinct quoted passage: the repeated question reuses the first answer's notes
    assert [int(n) for n, _ in notes] == list(range(1, len(first.citations) + 1))
    section1 = md.split("## 2.")[0]
    section3 = md.split("## 3.")[1].split("## Notes")[0]
    refs1 = re.findall(r"\[\^(\d+)\]", section1)
    assert refs1 and re.findall(r"\[\^(\d+)\]", section3) == refs1
    assert not re.search(r"\\\[\d+\\\]|\[\d+\]", section1)  # every marker became a footnote
    c = first.citations[0]
    assert notes[0][1].startswith(f"*{c.title}* ({c.kind}), {c.location}. “")
    # the cited passage's footnotes, each with its original source's address
    cited_notes = [ref for ref in c.footnotes if ref.url]
    assert cited_notes
    assert all(f"Brief footnote {ref.footnote}:" in notes[0][1] and f"<{ref.url}>" in notes[0][1]
               for ref in cited_notes)
    assert any(ref.url for cit in first.citations for ref in cit.footnotes)


def test_export_marks_abstentions_filters_and_backend(turns):
    md = conversation_markdown(turns, exported_at=WHEN)
    section2 = md.split("## 2.")[1].split("## 3.")[0]
    assert turns[1].answer.text in section2
    assert "*no answer in the indexed documents; restricted to brief; answered by extractive.*" in section2
    assert "[^" not in section2


def test_export_is_inert_markdown(turns):
    a = turns[0].answer
    evil = replace(
        a.citations[0],
        title="<script>alert(1)</script>",
        quote="see [click](javascript:alert(1)) and ![x](http://evil/img)",
        url="javascript:alert(1)",
        footnotes=[SourceRef(footnote=9, text="x", title="<img src=x onerror=alert(2)>", url="data:text/html,hi")],
    )
    note = note_text(evil)
    rendered = markdown_it.MarkdownIt("commonmark", {"html": True}).render(note)
    assert "<script" not in rendered and "<img" not in rendered and "<a " not in rendered
    assert "javascript:" not in note.split("“")[0] and "data:text" not in note
    turn = Turn("What <b>is</b> [this](javascript:x)?", replace(a, citations=[evil]))
    md = conversation_markdown([turn], exported_at=WHEN)
    rendered = markdown_it.MarkdownIt("commonmark", {"html": True}).render(md)
    assert "<script" not in rendered and "<img" not in rendered and "<b>" not in rendered
    assert 'href="javascript' not in rendered


def test_export_filename():
    assert export_filename(WHEN) == "usmca-conversation-20260301-1430.md"


def test_history_pairs_roles_in_order(turns):
    assert history(turns[:2]) == [
        ("user", turns[0].question), ("understood", turns[0].understood), ("assistant", turns[0].answer.text),
        ("user", turns[1].question), ("understood", turns[1].understood), ("assistant", turns[1].answer.text),
    ]


def test_export_keeps_each_follow_ups_understood_question(brief_assistant):
    first = brief_assistant.ask("What does the brief recommend on energy?")
    turns = [Turn(first.question, first)]
    second = brief_assistant.ask("And on labor?", history=history(turns))
    turns.append(Turn(second.question, second))
    md = conversation_markdown(turns, exported_at=WHEN)
    assert "## 2. And on labor?" in md
    assert "understood as “What does the brief recommend on labor?”" in md
    assert md.count("understood as") == 1  # a question asked standalone is not repeated


def test_feedback_record_and_append(turns, tmp_path):
    a = turns[0].answer
    record = feedback_record(turns[0].question, a, 1, "  useful  ", now=WHEN)
    assert record == {
        "timestamp": "2026-03-01T14:30:00+00:00",
        "question": turns[0].question,
        "standalone_question": a.standalone_question or turns[0].question,
        "answer": a.text,
        "abstained": False,
        "backend": "extractive",
        "citations": [
            {"number": c.number, "chunk_id": c.chunk_id, "document_id": c.document_id, "location": c.location,
             "quote": c.quote}
            for c in a.citations
        ],
        "rating": "up",
        "comment": "useful",
    }
    path = tmp_path / "new" / "feedback.jsonl"
    append_feedback(path, record)
    append_feedback(path, feedback_record("q2", turns[1].answer, 0, now=WHEN))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["rating"] for x in lines] == ["up", "down"]
    assert json.loads(lines[1])["abstained"] is True and json.loads(lines[1])["citations"] == []
    with pytest.raises(ValueError):
        feedback_record("q", a, 5)
