"""End-to-end batch evaluation on a hand-made question file and prepared answers.

The fake `answer_fn` returns `Answer` objects built from real `Chunk`s, and a fake clock makes the
latencies exact, so every summary value below is known in advance.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from assistant.domain import Answer, Chunk, Citation, ScoredChunk, SentenceSupport
from assistant.evaluate.metrics import METRIC_KEYS, SUMMARY_KEYS
from assistant.evaluate.questions import load_questions
from assistant.evaluate.report import RunData, write_report
from assistant.evaluate.run import WARMUP_QUESTION, compare, compare_markdown, load_run, run_eval

E1 = "Mexico is already embedded in the USMCA's institutional mechanisms, giving the U.S. a forum"
E2 = "both exports at roughly $30 billion annually, and imports at roughly $41 billion annually in recent years."
E3 = "Grains, oilseeds and dairy dominate what the United States sells south of the border."
STRADDLE = (
    "The agreement entered into force in 1994 and since then trade between the two neighbours "
    "has grown roughly tenfold in value terms"
)


def chunk(cid: str, text: str) -> Chunk:
    return Chunk(
        id=cid,
        document_id=f"doc-{cid}",
        title="T",
        kind="brief",
        text=text,
        position=0,
        start=0,
        end=len(text),
        label=f"Label {cid}",
    )


C_A = chunk(
    "a",
    "Unlike other countries in South or Southeast Asia, MEXICO is already\nembedded in the "
    "USMCA's  institutional mechanisms, giving the U.S. a forum to address issues.¹²",
)
C_N = chunk(
    "n",
    "U.S. agricultural trade with Mexico is large, with both exports at roughly $30 billion "
    "annually²⁰, and imports at roughly $41 billion annually in recent years.",
)
C_S1 = chunk(
    "s1",
    "Some history first. The agreement entered into force in 1994 and since then trade between "
    "the two neighbours has grown roughly",
)
C_S2 = chunk("s2", "tenfold in value terms, a remarkable shift for both economies.")
NOISE = [
    chunk(f"x{i}", t)
    for i, t in enumerate(
        [
            "Tariff item 0101.21.00 covers horses. <img src=x onerror=alert(2)>",
            "The Committee shall meet once a year at a place agreed.",
            "Automobile parts are listed in Annex I of the proclamation.",
            "Steel and aluminum measures were adjusted later.",
            "Labor inspections are reported to Congress.",
            "Dispute panels publish their reports.",
        ],
        1,
    )
]
X1, X2, X3, X4, X5, X6 = NOISE

QUESTION_LINES = [
    {
        "id": "q1",
        "question": "What leverage does the U.S. have?",
        "kind": "fact",
        "answerable": True,
        "must_mention": ["rules of origin", "USMCA"],
        "evidence": [E1],
        "extra_field": {"ignored": True},
    },
    {
        "id": "q2",
        "question": "How big is farm trade?",
        "kind": "number",
        "answerable": True,
        "must_mention": ["$30 billion", "1,000", "25%", "41"],
        "evidence": [E2, E3],
    },
    "",
    {
        "id": "q3",
        "question": "How much has trade grown?",
        "kind": "reasoning",
        "answerable": True,
        "must_mention": ["tenfold"],
        "evidence": [STRADDLE],
    },
    {
        "id": "q4",
        "question": "How many border encounters in 2024?",
        "kind": "unanswerable",
        "answerable": False,
        "must_mention": [],
        "evidence": [],
    },
    "{this is not json",
    {"id": "q9"},
    {
        "id": "q5",
        "question": "Compare the two regimes.",
        "kind": "comparison",
        "answerable": True,
        "must_mention": ["USMCA"],
        "evidence": [E1],
    },
    {"id": "q6", "question": "What will tariffs be in 2030?", "kind": "unanswerable", "answerable": False},
    {"id": "q1", "question": "Duplicate id."},
    {"id": "q7", "question": "Wrong types.", "evidence": "not a list"},
]


def cite(n: int, c: Chunk) -> Citation:
    return Citation(
        number=n,
        chunk_id=c.id,
        document_id=c.document_id,
        title=c.title,
        kind=c.kind,
        location=c.label,
        quote=c.text[:50],
        passage=c.text,
    )


def answer(retrieved: list[Chunk], text: str, *, abstained: bool = False, citations=(), support=()) -> Answer:
    return Answer(
        question="",
        text=text,
        citations=list(citations),
        abstained=abstained,
        retrieved=[ScoredChunk(c, 1.0 / i, rank=i) for i, c in enumerate(retrieved, 1)],
        support=list(support),
        backend="fake",
    )


PREPARED = {
    "What leverage does the U.S. have?": (
        100,
        answer(
            [C_A, X1, X2],
            "Mexico is already embedded in USMCA institutions [1]. It also has complex rules of origin in autos.",
            citations=[cite(1, C_A)],
        ),
    ),
    "How big is farm trade?": (
        200,
        answer(
            [X1, X2, C_N, X3],
            "Exports run at roughly 30 Billion a year [1]. The threshold is 1000 km and the cap is 25 percent [2]. "
            "Some say otherwise [3]. Trade is large overall.",
            citations=[cite(1, C_N), cite(2, X2), cite(3, X3)],
            support=[
                SentenceSupport("The threshold ... [2].", [2], True, 0.9),
                SentenceSupport("Some say otherwise [3].", [3], False, 0.1),
            ],
        ),
    ),
    "How much has trade grown?": (
        300,
        answer(
            [X1, C_S2, X2, X3, X4, X5, C_S1, X6],
            "The documents do not say.",
            abstained=True,
        ),
    ),
    "How many border encounters in 2024?": (
        400,
        answer(
            [X1],
            "I could not find this in the documents.",
            abstained=True,
        ),
    ),
    "What will tariffs be in 2030?": (
        1000,
        answer(
            [X1, X2],
            "The answer is <script>alert(1)</script> here [1].",
            citations=[cite(1, X1)],
        ),
    ),
}


class FakeProduct:
    """answer_fn plus the clock it advances, so latencies are exact."""

    def __init__(self) -> None:
        self.now = 0.0
        self.calls: list[str] = []

    def clock(self) -> float:
        return self.now

    def __call__(self, question: str) -> Answer:
        self.calls.append(question)
        if question == WARMUP_QUESTION:
            self.now += 5.0  # slow cold start: must not be charged to any question
            return answer([X1], "warm")
        if question == "Compare the two regimes.":
            self.now += 0.05
            raise RuntimeError("index offline")
        ms, ans = PREPARED[question]
        self.now += ms / 1000.0
        return ans


@pytest.fixture()
def question_file(tmp_path: Path) -> Path:
    path = tmp_path / "questions.jsonl"
    text = "\n".join(json.dumps(x) if isinstance(x, dict) else x for x in QUESTION_LINES)
    path.write_text("\ufeff" + text + "\n", encoding="utf-8")
    return path


@pytest.fixture()
def run(tmp_path: Path, question_file: Path):
    questions, errors = load_questions(question_file)
    product = FakeProduct()
    progress: list[tuple[int, int]] = []
    out = tmp_path / "run"
    summary = run_eval(
        questions,
        product,
        out,
        retriever="hybrid",
        k=8,
        progress=lambda d, t: progress.append((d, t)),
        question_file=question_file,
        line_errors=errors,
        clock=product.clock,
    )
    return summary, out, product, progress, errors


def test_malformed_lines_reported_with_line_numbers(question_file: Path):
    questions, errors = load_questions(question_file)
    assert [q.id for q in questions] == ["q1", "q2", "q3", "q4", "q5", "q6"]
    assert [e.line for e in errors] == [6, 7, 10, 11]
    assert "JSON" in errors[0].reason and "question" in errors[1].reason
    assert "duplicate" in errors[2].reason and "evidence" in errors[3].reason


def test_summary_values_are_exact(run):
    s, _, _, _, _ = run
    assert (s["n"], s["n_answerable"]) == (6, 4)
    assert s["hit_at_1"] == 0.25
    assert s["hit_at_5"] == 0.5
    assert s["hit_at_10"] == 0.75
    assert s["evidence_recall_at_10"] == pytest.approx(0.625)
    assert s["mrr_at_10"] == pytest.approx((1 + 1 / 3 + 1 / 7 + 0) / 4)
    assert s["must_mention"] == pytest.approx((1 + 0.75 + 0 + 0) / 4)
    assert s["citation_precision"] == pytest.approx((1 + 2 / 3) / 2)
    assert s["cited_sentence_rate"] == pytest.approx((0.5 + 0.75) / 2)
    assert s["abstain_accuracy"] == 0.5
    assert s["false_abstain_rate"] == 0.25
    assert s["latency_ms_p50"] == pytest.approx(300.0)
    assert s["latency_ms_p95"] == pytest.approx(880.0)
    assert s["meta"]["hit_at_k_curve"] == pytest.approx(
        [0.25, 0.25, 0.5, 0.5, 0.5, 0.5, 0.75, 0.75, 0.75, 0.75]
    )


def test_by_kind(run):
    bk = run[0]["by_kind"]
    assert set(bk) == {"fact", "number", "reasoning", "unanswerable", "comparison"}
    assert all(tuple(v) == METRIC_KEYS for v in bk.values())
    fact, number, reasoning = bk["fact"], bk["number"], bk["reasoning"]
    assert (fact["hit_at_1"], fact["mrr_at_10"], fact["must_mention"], fact["cited_sentence_rate"]) == (
        1.0,
        1.0,
        1.0,
        0.5,
    )
    assert (number["hit_at_1"], number["hit_at_5"], number["evidence_recall_at_10"]) == (0.0, 1.0, 0.5)
    assert number["mrr_at_10"] == pytest.approx(1 / 3)
    assert number["citation_precision"] == pytest.approx(2 / 3)
    assert number["must_mention"] == 0.75
    assert (reasoning["hit_at_5"], reasoning["hit_at_10"], reasoning["false_abstain_rate"]) == (0.0, 1.0, 1.0)
    assert reasoning["mrr_at_10"] == pytest.approx(1 / 7)
    assert reasoning["cited_sentence_rate"] is None and reasoning["citation_precision"] is None
    un = bk["unanswerable"]
    assert (un["n"], un["n_answerable"], un["abstain_accuracy"], un["hit_at_1"]) == (2, 0, 0.5, None)
    assert un["latency_ms_p50"] == pytest.approx(700.0)
    cmp_ = bk["comparison"]  # unknown kind kept as written; its only question raised
    assert (cmp_["n"], cmp_["hit_at_10"], cmp_["must_mention"], cmp_["false_abstain_rate"]) == (
        1,
        0.0,
        0.0,
        0.0,
    )
    assert cmp_["latency_ms_p50"] is None


def test_warmup_progress_and_error_handling(run):
    s, out, product, progress, _ = run
    assert product.calls[0] == WARMUP_QUESTION
    assert len(product.calls) == 7  # warm-up + 6 questions: the raising one did not stop the run
    assert progress == [(i, 6) for i in range(7)]
    meta = s["meta"]
    assert (meta["retriever"], meta["k"], meta["backend"]) == ("hybrid", 8, "fake")
    assert (meta["n_errors"], meta["n_malformed_lines"]) == (1, 4)
    assert [e["line"] for e in meta["malformed_lines"]] == [6, 7, 10, 11]
    assert meta["question_file"].endswith("questions.jsonl")
    assert meta["latency_ms_max"] == pytest.approx(1000.0)
    assert re.match(r"\d{4}-\d\d-\d\dT", meta["date"])


def test_output_files(run):
    s, out, _, _, _ = run
    for name in (
        "summary.json",
        "results.jsonl",
        "results.csv",
        "report.md",
        "report.html",
        "hit_at_k.png",
        "latency.png",
    ):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    on_disk = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert list(on_disk) == list(SUMMARY_KEYS) + ["meta"]
    assert on_disk["hit_at_10"] == 0.75

    rows = [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["q1", "q2", "q3", "q4", "q5", "q6"]
    q2 = rows[1]
    assert [(r["rank"], r["chunk_id"], r["document_id"], r["label"]) for r in q2["retrieved"]][2] == (
        3,
        "n",
        "doc-n",
        "Label n",
    )
    assert [c["correct"] for c in q2["citations"]] == [True, True, False]
    assert q2["metrics"]["first_hit_rank"] == 3 and q2["metrics"]["evidence_ranks"] == [3, None]
    assert q2["metrics"]["mentions_missing"] == ["41"]
    assert q2["latency_ms"] == pytest.approx(200.0)
    q3 = rows[2]
    # the straddling quote: found in s1 (rank 7), not in s2 (rank 2), which holds only its tail
    assert q3["metrics"]["evidence_ranks"] == [7]
    q5 = rows[4]
    assert q5["error"].startswith("RuntimeError: index offline")
    assert q5["answer"] == "" and q5["retrieved"] == []
    assert rows[5]["abstained"] is False

    with (out / "results.csv").open(encoding="utf-8", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [r["id"] for r in table] == ["q1", "q2", "q3", "q4", "q5", "q6"]
    assert table[1]["first_hit_rank"] == "3" and table[1]["hit_at_1"] == "0.0"
    assert table[4]["error"].startswith("RuntimeError")


def test_report_escapes_and_orders_weakest_first(run):
    _, out, _, _, _ = run
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page and "<img src=x" not in page
    assert "data:image/png;base64," in page
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "](hit_at_k.png)" in md and "](latency.png)" in md
    assert "<script>" not in md
    weakest = re.findall(r"^### \d+\. (q\d+) ", md, flags=re.M)
    # error, then lowest evidence recall, then lowest must-mention, then the wrong abstention
    assert weakest == ["q5", "q2", "q3", "q6"]
    assert (out / "hit_at_k.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "line 6" in md  # malformed lines are listed


def test_compare_and_multi_run_report(run, tmp_path: Path):
    s, out, _, _, _ = run
    other = dict(s, hit_at_1=0.5, latency_ms_p50=None, meta=dict(s["meta"], retriever="dense"))
    rows = {r.metric: r for r in compare(s, other)}
    assert list(rows) == list(METRIC_KEYS)
    assert rows["hit_at_1"].difference == pytest.approx(-0.25)
    assert rows["hit_at_10"].difference == 0.0
    assert rows["latency_ms_p50"].other is None and rows["latency_ms_p50"].difference is None
    table = compare_markdown(compare(s, other), "hybrid", "dense")
    assert table.splitlines()[0] == "| metric | hybrid | dense | difference |"
    assert "| hit_at_1 | 25.0% | 50.0% | −25.0 pp |" in table

    this = load_run(out)
    assert this.name == "hybrid" and len(this.results) == 6
    written = write_report(tmp_path / "both", [this, RunData(other, [], "dense")])
    md = written["report.md"].read_text(encoding="utf-8")
    assert "| metric | hybrid | dense |" in md
    assert "| hit@1 | 25.0% | 50.0% |" in md


def test_empty_question_set_and_non_answer_return(tmp_path: Path):
    s = run_eval([], lambda q: None, tmp_path / "empty", retriever="r", k=5)
    assert s["n"] == 0 and s["hit_at_1"] is None and s["by_kind"] == {}
    assert (tmp_path / "empty" / "report.html").is_file()

    questions, _ = load_questions_from([{"id": "z", "question": "Q?", "evidence": [E1]}], tmp_path)
    s = run_eval(questions, lambda q: None, tmp_path / "none", retriever="r", k=5, warmup=None)
    assert s["meta"]["n_errors"] == 1 and s["hit_at_10"] == 0.0
    row = json.loads((tmp_path / "none" / "results.jsonl").read_text(encoding="utf-8"))
    assert row["error"] == "answer_fn returned NoneType, expected Answer"


def load_questions_from(items: list[dict], tmp_path: Path):
    path = tmp_path / "small.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in items), encoding="utf-8")
    return load_questions(path)
