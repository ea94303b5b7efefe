"""Conversations in an evaluation run (`history`): played in order as the chat plays them, only the
last turn scored. First with a scripted product (every call and its history checked exactly), then
with the real assistant on the brief and a small conversation file (tests/data/conversations.jsonl).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.domain import Answer, Chunk, ScoredChunk
from assistant.evaluate.answerers import make_answer_fn
from assistant.evaluate.metrics import METRIC_KEYS
from assistant.evaluate.questions import Question, load_questions
from assistant.evaluate.run import WARMUP_QUESTION, run_eval
from ui.chat_state import Turn, history

DATA = Path(__file__).resolve().parent / "data"
CONVERSATIONS = DATA / "conversations.jsonl"
EVIDENCE = "The settlements benefited 36,000 workers, resulting in free and fair union elections"


def chunk(cid: str, text: str) -> Chunk:
    return Chunk(
        id=cid,
        document_id="brief",
        title="T",
        kind="brief",
        text=text,
        position=0,
        start=0,
        end=len(text),
        label=f"Label {cid}",
    )


GOOD = chunk("good", EVIDENCE + ", higher wages, and the reinstatement of workers.")
NOISE = chunk("noise", "The Committee shall meet once a year.")


class ScriptedChat:
    """answer_fn that records (question, history) per call; each answer names the question it got."""

    def __init__(self) -> None:
        self.now = 0.0
        self.calls: list[tuple[str, list[tuple[str, str]] | None]] = []

    def clock(self) -> float:
        return self.now

    def __call__(self, question: str, history: list[tuple[str, str]] | None = None) -> Answer:
        self.calls.append((question, history))
        if question == "Explode":
            raise RuntimeError("model offline")
        follow = bool(history)
        self.now += 0.05 if question == "How many workers benefited?" else 1.0
        # an earlier turn retrieves the evidence first; the scored turn has it at rank 2
        ranked = [NOISE, GOOD] if question == "How many workers benefited?" else [GOOD, NOISE]
        answer = Answer(
            question=question,
            text=f"Answer to {question} [1].",
            citations=[],
            abstained=False,
            retrieved=[ScoredChunk(c, 1.0 / i, rank=i) for i, c in enumerate(ranked, 1)],
            standalone_question=f"{question} (about the RRM)" if follow else question,
        )
        answer.not_covered = ["the wage figures"] if follow else []  # the field the lead is adding
        return answer


QUESTIONS = [
    Question("solo", "What is the RRM?", evidence=(EVIDENCE,), must_mention=("36,000",)),
    Question(
        "conv",
        "How many workers benefited?",
        kind="number",
        evidence=(EVIDENCE,),
        must_mention=("36,000",),
        history=("What is the RRM?", "How many cases were brought?"),
    ),
    Question("broken", "And then?", history=("Explode",), evidence=(EVIDENCE,)),
]


@pytest.fixture()
def scripted_run(tmp_path: Path):
    chat = ScriptedChat()
    out = tmp_path / "run"
    summary = run_eval(QUESTIONS, chat, out, retriever="hybrid", k=2, clock=chat.clock)
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    return summary, rows, chat, out


def test_earlier_turns_are_played_with_the_conversation_so_far(scripted_run):
    _, _, chat, _ = scripted_run
    a1 = "Answer to What is the RRM? [1]."
    a2 = "Answer to How many cases were brought? [1]."
    assert chat.calls == [
        (WARMUP_QUESTION, None),
        ("What is the RRM?", None),  # a question without history is asked alone
        ("What is the RRM?", None),  # the conversation's first turn
        (
            "How many cases were brought?",
            [("user", "What is the RRM?"), ("understood", "What is the RRM?"), ("assistant", a1)],
        ),
        (
            "How many workers benefited?",
            [
                ("user", "What is the RRM?"),
                ("understood", "What is the RRM?"),
                ("assistant", a1),
                ("user", "How many cases were brought?"),
                ("understood", "How many cases were brought? (about the RRM)"),
                ("assistant", a2),
            ],
        ),
        ("Explode", None),  # the failing first turn ends that conversation: "And then?" is never asked
    ]
    # exactly the history the chat page builds from its turns
    answers = {
        q: Answer(q, t, [], False, [], standalone_question=u)
        for q, t, u in (
            ("What is the RRM?", a1, "What is the RRM?"),
            ("How many cases were brought?", a2, "How many cases were brought? (about the RRM)"),
        )
    }
    assert chat.calls[4][1] == history([Turn(q, a) for q, a in answers.items()])


def test_only_the_last_turn_is_scored_and_timed(scripted_run):
    summary, rows, _, _ = scripted_run
    solo, conv, broken = rows
    assert conv["metrics"]["first_hit_rank"] == 2  # the last turn's retrieval, not the earlier turns'
    assert conv["latency_ms"] == pytest.approx(50.0)  # the earlier turns took 1 s each, untimed
    assert conv["standalone_question"] == "How many workers benefited? (about the RRM)"
    assert conv["not_covered"] == ["the wage figures"] and solo["not_covered"] == []
    assert conv["answer_words"] == 6 and conv["metrics"]["history_turns"] == 2
    assert [t["question"] for t in conv["history"]] == ["What is the RRM?", "How many cases were brought?"]
    assert conv["history"][1]["standalone_question"] == "How many cases were brought? (about the RRM)"
    assert conv["history"][0]["answer"] == "Answer to What is the RRM? [1]."
    assert solo["history"] == [] and solo["standalone_question"] == "What is the RRM?"
    assert broken["error"].startswith("earlier turn 1 of 1 failed: RuntimeError: model offline")
    assert broken["standalone_question"] is None and broken["metrics"]["first_hit_rank"] is None

    assert summary["n_followups"] == 2
    assert list(summary["by_turn"]) == ["standalone", "followup"]
    assert all(tuple(v) == METRIC_KEYS for v in summary["by_turn"].values())
    standalone, followup = summary["by_turn"]["standalone"], summary["by_turn"]["followup"]
    assert (standalone["n"], standalone["hit_at_1"], standalone["mrr_at_10"]) == (1, 1.0, 1.0)
    assert (followup["n"], followup["hit_at_1"], followup["hit_at_5"]) == (2, 0.0, 0.5)
    assert followup["mrr_at_10"] == pytest.approx(0.25)
    assert summary["meta"]["n_errors"] == 1


def test_report_shows_the_conversation(scripted_run):
    _, _, _, out = scripted_run
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "2 follow-ups in conversations" in md
    assert "## Follow-ups and standalone questions" in md
    assert "| follow-up (after earlier turns) | 2 | 2 |" in md
    assert "| id | kind | turn | answerable |" in md  # the question table numbers the scored turn
    assert (
        "**Earlier turns:**" in md and "**Understood as:** How many workers benefited? (about the RRM)" in md
    )
    assert "**Not covered:** the wage figures" in md


def test_a_one_argument_answer_function_still_runs_single_questions(tmp_path: Path):
    def ask(question: str) -> Answer:
        return Answer(question, "An answer.", [], False, [ScoredChunk(GOOD, 1.0, rank=1)])

    summary = run_eval(QUESTIONS[:2], ask, tmp_path / "run", retriever="r", k=1, warmup=None)
    rows = [
        json.loads(x) for x in (tmp_path / "run" / "results.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert rows[0]["error"] == "" and rows[0]["metrics"]["first_hit_rank"] == 1
    assert "TypeError" in rows[1]["error"]  # a follow-up needs an answer function that takes history
    assert summary["meta"]["n_errors"] == 1


def test_conversation_file_on_the_real_brief(brief_assistant, tmp_path: Path):
    questions, errors = load_questions(CONVERSATIONS)
    assert not errors and sum(q.is_followup for q in questions) == 4
    calls: list[dict] = []
    answer_fn = make_answer_fn("hybrid", brief_assistant)

    def recording(question: str, history=None):
        answer = answer_fn(question, history=history)
        calls.append({"question": question, "history": history, "answer": answer})
        return answer

    out = tmp_path / "conv"
    summary = run_eval(
        questions,
        recording,
        out,
        retriever="hybrid",
        k=brief_assistant.settings.top_k,
        question_file=CONVERSATIONS,
        warmup=None,
    )
    assert summary["meta"]["n_errors"] == 0
    assert summary["n_followups"] == 4 and summary["by_turn"]["standalone"]["n"] == 1
    assert len(calls) == len(questions) + sum(len(q.history) for q in questions)
    rows = {
        r["id"]: r for r in map(json.loads, (out / "results.jsonl").read_text(encoding="utf-8").splitlines())
    }
    rrm = rows["c-rrm"]
    # the follow-up was asked after both earlier turns, with the product's own answers as history
    last = next(c for c in calls if c["question"] == "How many workers did the settlements benefit?")
    first_answer = next(
        c["answer"] for c in calls if c["question"] == "What is the USMCA's Rapid Response Mechanism?"
    )
    roles = ["user", "understood", "assistant"]
    assert [role for role, _ in last["history"]] == roles + roles
    assert last["history"][1] == ("understood", first_answer.standalone_question or first_answer.question)
    assert last["history"][2] == ("assistant", first_answer.text) and first_answer.text
    assert [t["answer"] for t in rrm["history"]] == [
        text for role, text in last["history"] if role == "assistant"
    ]
    assert rrm["standalone_question"] == last["answer"].standalone_question
    assert rrm["retrieved"][0]["chunk_id"] == last["answer"].retrieved[0].chunk.id
    assert rows["c-single"]["history"] == [] and rows["c-single"]["metrics"]["first_hit_rank"] is not None
    assert "## Follow-ups and standalone questions" in (out / "report.md").read_text(encoding="utf-8")
