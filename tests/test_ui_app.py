"""The Streamlit app driven through `streamlit.testing.v1.AppTest` on real indexes.

Each test points the app at a copy of the session's brief index (plus a hostile user document)
through ASSISTANT_* environment variables, so uploads and removals never touch other tests' data.
Nothing is faked: the real embedding model, Chroma, pypdf and the Assistant answer every question.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import markdown_it
import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from assistant.index.indexer import Indexer
from assistant.index.store import load_snapshot, read_manifest
from assistant.settings import Settings
from ui.safety import md_escape

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "ui" / "app.py"
TIMEOUT = 240

TRADE_Q = "How much did U.S.-Mexico trade total in 2024?"
HOSTILE_NAME = "quokka-notes.txt"
HOSTILE = (
    "# Quokka clove memo\n"
    "The Quokka clove quota under the memo is 4,321 tonnes <script>alert(1)</script> per year, "
    "see [click here](javascript:alert(1)) for details.\n"
    "The Quokka clove inspection image is ![x](http://evil.invalid/img.png) and <img src=x onerror=alert(2)> "
    "with <b>raw html</b> and :red[red text] and $x^2$ math.\n"
)
QUOKKA_Q = "What is the Quokka clove quota under the memo?"


def clone_index(brief_settings: Settings, dest: Path) -> dict[str, str]:
    """A private copy of the brief index, and the environment that points the app at it."""
    corpus = dest / "corpus"
    shutil.copytree(brief_settings.corpus_dirs[0], corpus)
    shutil.copytree(brief_settings.index_dir, dest / "index")
    return {
        "ASSISTANT_INDEX_DIR": str(dest / "index"),
        "ASSISTANT_CORPUS_DIRS": str(corpus),
        "ASSISTANT_USER_DOCS_DIR": str(corpus / "user"),
        "ASSISTANT_FEEDBACK_FILE": str(dest / "feedback" / "feedback.jsonl"),
        "ASSISTANT_ANSWER_BACKEND": "extractive",
    }


@pytest.fixture(scope="module")
def chat_env(brief_settings, tmp_path_factory) -> dict[str, str]:
    """The brief plus a user document full of HTML and Markdown tricks (read-only for the tests)."""
    env = clone_index(brief_settings, tmp_path_factory.mktemp("ui_chat"))
    user = Path(env["ASSISTANT_USER_DOCS_DIR"])
    user.mkdir(parents=True)
    (user / HOSTILE_NAME).write_text(HOSTILE, encoding="utf-8")
    settings = Settings(
        index_dir=Path(env["ASSISTANT_INDEX_DIR"]), corpus_dirs=[Path(env["ASSISTANT_CORPUS_DIRS"])],
        user_docs_dir=user,
    )
    report = Indexer(settings).run([user / HOSTILE_NAME])
    assert report.ok and report.indexed == [f"user/{HOSTILE_NAME}"], report.errors
    return env


def start(env: dict[str, str], monkeypatch, **extra: str) -> AppTest:
    for key, value in {**env, **extra}.items():
        monkeypatch.setenv(key, value)
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    return at


def ask(at: AppTest, question: str):
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    return at.session_state["turns"][-1]


def markdown_sources(at: AppTest) -> list[str]:
    """The Markdown source of everything Streamlit renders as Markdown on the page."""
    out = [e.value for e in at.get("markdown")]
    for kind in ("error", "warning", "info", "success"):
        out += [e.value for e in at.get(kind)]
    out += [e.label for e in at.get("expander")]
    return out


def button(at: AppTest, label: str):
    matches = [b for b in at.button if b.label == label]
    assert matches, f"no button {label!r}: {[b.label for b in at.button]}"
    return matches[0]


def test_question_streams_a_cited_answer_with_checkable_cards(chat_env, monkeypatch):
    at = start(chat_env, monkeypatch)
    assert at.title[0].value == "USMCA Review Assistant"
    turn = ask(at, TRADE_Q)
    answer = turn.answer
    assert not answer.abstained and "840" in answer.text and answer.citations
    reply = at.chat_message[-1]
    assert reply.name == "assistant"
    assert reply.markdown[0].value == md_escape(answer.text, line_start=False)
    sources = [m.value for m in reply.markdown]
    first = answer.citations[0]
    # the card: number, title, kind, precise location
    assert any(s.startswith(f"**\\[1\\] {md_escape(first.title)}**") and md_escape(first.location) in s
               for s in sources)
    assert re.search(r"p\\\. \d+", md_escape(first.location))  # a brief passage: its page
    # the passage with the quoted sentences in bold
    quoted = first.quote.split("…")[0].strip()[:40]
    assert any("**" + md_escape(quoted, line_start=False) in s for s in sources)
    # every footnote of a cited brief passage: its original source, clickable
    notes = [ref for c in answer.citations for ref in c.footnotes if ref.url]
    assert notes
    assert all(any(f"Brief footnote {ref.footnote}:" in s and f"]({ref.url})" in s for s in sources) for ref in notes)
    # a support badge per card, and which backend answered
    assert sum("-badge[" in s for s in sources) == len(answer.citations)
    assert any(c.value.startswith("Answered by **extractive**") for c in reply.caption)
    # "view in document": the passage inside its surrounding text
    views = [e for e in reply.expander if e.label == "View in document"]
    assert len(views) == len(answer.citations)
    context = " ".join(m.value for m in views[0].markdown)
    opening = md_escape(" ".join(first.passage.split()[:6]), line_start=False)
    assert "**" + opening in " ".join(context.split())  # the cited passage, in bold, within its text
    assert len(context) > len(first.passage) + 200
    assert "\\<sup\\>" not in context  # the brief's Markdown source is shown as text a reader sees
    # the conversation can be exported, and started over
    assert [d.label for d in at.download_button] == ["Export conversation (Markdown)"]
    assert not at.download_button[0].disabled


def understood_captions(message) -> list[str]:
    return [c.value for c in message.caption if c.value.startswith("Understood as: ")]


def test_three_turn_conversation_shows_what_each_follow_up_was_understood_as(chat_env, monkeypatch):
    at = start(chat_env, monkeypatch)
    first = ask(at, TRADE_Q)
    assert understood_captions(at.chat_message[1]) == []  # a standalone question is shown as typed
    second = ask(at, "And what about Canada?")
    assert second.answer.standalone_question == "How much did U.S.-Canada trade total in 2024?"
    assert understood_captions(at.chat_message[3]) == [
        "Understood as: " + md_escape("How much did U.S.-Canada trade total in 2024?")]
    third = ask(at, "and in 2023?")
    # the third turn builds on what the second was understood as
    assert third.answer.standalone_question == "How much did U.S.-Canada trade total in 2023?"
    assert [m.name for m in at.chat_message] == ["user", "assistant"] * 3
    assert understood_captions(at.chat_message[5]) == [
        "Understood as: " + md_escape("How much did U.S.-Canada trade total in 2023?")]
    # earlier answers keep their cards and their "understood as"
    assert any(m.value.startswith("**\\[1\\]") for m in at.chat_message[1].markdown)
    assert understood_captions(at.chat_message[3])
    assert first.answer.standalone_question == TRADE_Q

    # "Edit": the user corrects what the third turn was understood as; it is asked as typed
    corrected = "How much did U.S.-Mexico trade total in 2023?"
    at.text_input(key=f"edit-{third.id}").set_value(corrected)
    at.button(key=f"edit-ask-{third.id}").click().run()
    assert not at.exception
    fourth = at.session_state["turns"][-1]
    assert fourth.question == corrected and fourth.standalone
    assert fourth.answer.standalone_question == corrected
    assert len(at.chat_message) == 8 and understood_captions(at.chat_message[7]) == []

    button(at, "New conversation").click().run()
    assert not at.exception and at.session_state["turns"] == [] and len(at.chat_message) == 0


def test_more_detail_shows_the_longer_answer_once(chat_env, monkeypatch):
    at = start(chat_env, monkeypatch)
    turn = ask(at, TRADE_Q)
    assert turn.detail is None
    button(at, "More detail").click().run()
    assert not at.exception
    turn = at.session_state["turns"][-1]
    assert turn.detail is not None and not turn.detail.abstained
    assert len(turn.detail.text.split()) > len(turn.answer.text.split())
    reply = at.chat_message[-1]
    sources = [m.value for m in reply.markdown]
    assert "**More detail**" in sources
    assert not [b for b in at.button if b.label == "More detail"]  # the button gives way to the answer
    assert md_escape(turn.detail.text) in sources  # escaped, like every answer
    detail = turn.detail
    at.run()
    assert at.session_state["turns"][-1].detail is detail  # kept on the turn, not asked again
    assert not [b for b in at.button if b.label == "More detail"]
    assert "**More detail**" in [m.value for m in at.chat_message[-1].markdown]


def test_filters_restrict_kinds_and_documents(chat_env, monkeypatch):
    at = start(chat_env, monkeypatch)
    assert set(at.multiselect(key="filter_kinds").options) == {"Quincy brief", "uploaded document"}
    at.multiselect(key="filter_kinds").set_value(["user"]).run()
    turn = ask(at, TRADE_Q)
    assert turn.kinds == ["user"]
    assert turn.answer.retrieved and {s.chunk.kind for s in turn.answer.retrieved} == {"user"}
    assert {c.kind for c in turn.answer.citations} <= {"user"}
    assert any("Searched only in: uploaded document" in c.value for c in at.chat_message[-2].caption)

    brief_id = next(i for i, d in read_manifest(Path(chat_env["ASSISTANT_INDEX_DIR"]))["documents"].items()
                    if d["kind"] == "brief")
    at.multiselect(key="filter_kinds").set_value([]).run()
    at.multiselect(key="filter_documents").set_value([brief_id]).run()
    turn = ask(at, QUOKKA_Q)
    assert turn.documents == [brief_id]
    assert {s.chunk.document_id for s in turn.answer.retrieved} == {brief_id}
    assert all(c.document_id == brief_id for c in turn.answer.citations)


def test_backend_choice_and_fallback_are_shown(chat_env, monkeypatch):
    # an LLM backend configured but unreachable (nothing listens on port 9): the pipeline falls back
    at = start(chat_env, monkeypatch, ASSISTANT_ANSWER_BACKEND="ollama", ASSISTANT_LLM_BASE_URL="http://127.0.0.1:9",
               ASSISTANT_LLM_TIMEOUT_S="5")
    backend = at.selectbox(key="backend")
    assert backend.options == ["extractive", "ollama"] and backend.value == "ollama"
    turn = ask(at, TRADE_Q)
    assert turn.backend == "ollama" and turn.answer.backend == "extractive"
    reply = at.chat_message[-1]
    assert any(c.value.startswith("Answered by **extractive**") for c in reply.caption)
    assert any("ollama" in w.value for w in reply.warning)
    at.selectbox(key="backend").set_value("extractive").run()
    turn = ask(at, TRADE_Q)
    assert turn.backend == "extractive" and not turn.answer.warnings


def test_abstention_shows_the_nearest_passages(chat_env, monkeypatch):
    at = start(chat_env, monkeypatch)
    turn = ask(at, "What is the population of Australia's capital city?")
    assert turn.answer.abstained and not turn.answer.citations
    reply = at.chat_message[-1]
    texts = [m.value for m in reply.markdown]
    assert texts[0] == md_escape(turn.answer.text, line_start=False)
    assert "**Related passages (not an answer)**" in texts
    nearest = turn.answer.retrieved[0].chunk
    assert any(md_escape(nearest.text[:60]) in t for t in texts)
    assert not [e for e in reply.expander if e.label == "View in document"]


def test_document_text_and_markup_tricks_render_as_text(chat_env, monkeypatch):
    at = start(chat_env, monkeypatch)
    turn = ask(at, QUOKKA_Q)
    assert any(c.document_id == f"user/{HOSTILE_NAME}" for c in turn.answer.citations)
    for e in at.get("markdown"):
        assert not e.proto.allow_html
    sources = markdown_sources(at)
    joined = "\n".join(sources)
    assert md_escape("<script>alert(1)</script>") in joined  # shown, escaped
    renderer = markdown_it.MarkdownIt("commonmark", {"html": True})
    for src in sources:
        rendered = renderer.render(src)
        assert "<script" not in rendered and "<img" not in rendered and "javascript:" not in re.sub(
            r">[^<]*<", "><", rendered), src  # no tag, and no link target, made from document text
    # the hostile passage is on the page, in its card and in "view in document"
    assert sum(md_escape("[click here](javascript:alert(1))") in src for src in sources) >= 2
    # the corpus page lists the document as plain data
    at.switch_page("views/corpus.py").run()
    assert not at.exception
    assert f"user/{HOSTILE_NAME}" in list(at.dataframe[0].value["document id"])


def test_feedback_is_appended_as_json_lines(chat_env, monkeypatch, tmp_path):
    feedback = tmp_path / "fb" / "feedback.jsonl"
    at = start(chat_env, monkeypatch, ASSISTANT_FEEDBACK_FILE=str(feedback))
    turn = ask(at, TRADE_Q)
    at.feedback[0].set_value(0)
    at.text_input(key=f"fb-comment-{turn.id}").set_value("Cite the 2024 figure, not 1993.")
    button(at, "Send feedback").click().run()
    assert not at.exception
    records = [json.loads(line) for line in feedback.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 1
    r = records[0]
    assert r["question"] == TRADE_Q and r["answer"] == turn.answer.text and r["rating"] == "down"
    assert r["comment"] == "Cite the 2024 figure, not 1993." and r["backend"] == "extractive"
    assert [c["chunk_id"] for c in r["citations"]] == [c.chunk_id for c in turn.answer.citations]
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", r["timestamp"])
    assert any(c.value.startswith("Feedback recorded 👎") for c in at.caption)
    # a second answer rated up appends, the first record stays
    turn2 = ask(at, "What does the brief recommend on energy?")
    at.feedback[-1].set_value(1)
    button(at, "Send feedback").click().run()
    records = [json.loads(line) for line in feedback.read_text(encoding="utf-8").splitlines()]
    assert [r["rating"] for r in records] == ["down", "up"] and records[1]["question"] == turn2.question


def test_export_is_the_conversation_with_footnotes(chat_env, monkeypatch):
    saved: list[tuple[bytes, str | None]] = []
    original = MemoryMediaFileStorage.load_and_get_id

    def capture(self, path_or_data, mimetype, kind, filename=None):
        if filename and filename.endswith(".md"):
            saved.append((path_or_data, filename))
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", capture)
    at = start(chat_env, monkeypatch)
    first = ask(at, TRADE_Q)
    second = ask(at, "And what about Canada?")
    data, filename = saved[-1]
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    assert re.fullmatch(r"usmca-conversation-\d{8}-\d{4}\.md", filename)
    assert "## 1. How much did U.S.-Mexico trade total in 2024?" in text
    assert "## 2. And what about Canada?" in text
    assert "[^1]" in text and "\\[1\\]" not in text
    notes = re.findall(r"(?m)^\[\^(\d+)\]: (.+)$", text)
    quoted = {(c.chunk_id, " ".join(c.quote.split())) for t in (first, second) for c in t.answer.citations}
    assert len(notes) == len(quoted)
    c = first.answer.citations[0]
    assert f"*{c.title}* ({c.kind}), {c.location}." in notes[0][1]
    assert " ".join(c.quote.split("…")[0].split())[:40] in " ".join(notes[0][1].split())
    cited_notes = [ref for ref in c.footnotes if ref.url]
    assert cited_notes  # the first cited brief passage carries a footnote with its source's address
    assert all(f"<{ref.url}>" in notes[0][1] for ref in cited_notes)
    assert "understood as “How much did U.S.-Canada trade total in 2024?”" in text


def test_upload_good_and_corrupt_files_then_remove(brief_settings, monkeypatch, tmp_path):
    env = clone_index(brief_settings, tmp_path)
    at = start(env, monkeypatch)
    at.switch_page("views/corpus.py").run()
    assert not at.exception
    good = (b"# Zanzibar spice tariff note\n\nThe Zanzibar clove quota agreed in the note is 4,321 tonnes a year, "
            b"shipped through the port of Veracruz.\n")
    corrupt = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage without xref or trailer\n"
    at.file_uploader[0].set_value([("../Zanzibar note.md", good, "text/markdown"),
                                   ("broken.pdf", corrupt, "application/pdf")]).run()
    button(at, "Add to index").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == [
        md_escape("'Zanzibar note.md' indexed: 1 passage (document id user/Zanzibar note.md)")
    ]
    assert len(at.error) == 1 and "broken\\.pdf" in at.error[0].value and "PDF" in at.error[0].value
    user = Path(env["ASSISTANT_USER_DOCS_DIR"])
    assert sorted(p.name for p in user.iterdir()) == ["Zanzibar note.md"]  # the refused file is not kept
    snap = load_snapshot(Path(env["ASSISTANT_INDEX_DIR"]))
    assert "user/Zanzibar note.md" in snap.documents and len(snap.documents) == 2
    assert "Zanzibar spice tariff note" in list(at.dataframe[0].value["title"])

    at.switch_page("views/chat.py").run()
    turn = ask(at, "What is the Zanzibar clove quota?")
    assert not turn.answer.abstained and "4,321" in turn.answer.text
    assert turn.answer.citations[0].document_id == "user/Zanzibar note.md"

    at.switch_page("views/corpus.py").run()
    at.multiselect(key="remove_docs").set_value(["user/Zanzibar note.md"]).run()
    at.checkbox(key="remove_confirm").check().run()
    button(at, "Remove").click().run()
    assert not at.exception
    assert any("deleted the uploaded file" in s.value for s in at.success)
    assert not (user / "Zanzibar note.md").exists()
    snap = load_snapshot(Path(env["ASSISTANT_INDEX_DIR"]))
    assert list(snap.documents) == [d for d in snap.documents if not d.startswith("user/")]
    assert not [c for c in snap.chunks.values() if c.document_id.startswith("user/")]


def test_upload_rejections_are_per_file(brief_settings, monkeypatch, tmp_path):
    env = clone_index(brief_settings, tmp_path)
    at = start(env, monkeypatch, ASSISTANT_MAX_FILE_MB="0.001")
    at.switch_page("views/corpus.py").run()
    at.file_uploader[0].set_value([
        ("fake.pdf", b"<html><body>not a pdf</body></html>", "application/pdf"),
        ("big.txt", b"x" * 2000, "text/plain"),
        ("small.txt", b"The Pemba nutmeg allowance is 12 tonnes.", "text/plain"),
    ]).run()
    button(at, "Add to index").click().run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 2 and "not a PDF" in errors[0] and "too large" in errors[1]
    assert len(at.success) == 1  # the small file still indexes


def test_evaluation_page_runs_a_question_file(chat_env, monkeypatch):
    at = start(chat_env, monkeypatch)
    at.switch_page("views/evaluation.py").run()
    assert not at.exception
    lines = [
        {"id": "q1", "question": TRADE_Q, "kind": "number", "answerable": True, "must_mention": ["840"],
         "evidence": ["accounting for $840 billion of bilateral trade"]},
        {"id": "q2", "question": "What is the population of Australia's capital city?", "kind": "unanswerable",
         "answerable": False},
    ]
    data = ("\n".join(json.dumps(x) for x in lines) + "\n{not json\n").encode("utf-8")
    at.file_uploader(key="eval_file").set_value(("dev.jsonl", data, "application/jsonl")).run()
    button(at, "Run evaluation").click().run()
    assert not at.exception
    run = at.session_state["eval_run"]
    summary = run["summary"]
    assert summary["n"] == 2 and summary["hit_at_5"] == 1.0 and summary["abstain_accuracy"] == 1.0
    assert any("Line 3" in w.value and "invalid JSON" in w.value for w in at.warning)
    assert {m.label: m.value for m in at.metric}["hit@5"] == "100.0%"
    assert sorted(d.label for d in at.download_button) == sorted(
        ["summary.json", "results.jsonl", "results.csv", "report.md", "report.html"]
    )
    out = Path(run["out_dir"])
    assert json.loads((out / "summary.json").read_text())["n"] == 2
    assert len(at.dataframe) >= 1 and len(at.dataframe[-1].value) == 2  # one row per question


def test_recommendations_page_filters_by_topic(chat_env, monkeypatch):
    from assistant.answer.recommend import load_recommendations

    recs = load_recommendations(load_snapshot(Path(chat_env["ASSISTANT_INDEX_DIR"])))
    assert recs
    at = start(chat_env, monkeypatch)
    at.switch_page("views/recommendations.py").run()
    assert not at.exception
    assert len(at.expander) == len(recs)
    options = at.pills(key="rec_topics").options
    assert options[:3] == ["Autos", "Labor", "Energy"]  # the brief's themes first
    at.pills(key="rec_topics").set_value(["energy"]).run()
    energy = [r for r in recs if "energy" in r.topics]
    assert 0 < len(at.expander) == len(energy) < len(recs)
    first = at.expander[0]
    assert first.label.startswith(f"**{md_escape(energy[0].title)}**")
    body = [m.value for m in first.markdown]
    assert any(v.startswith("**Rationale**") for v in body)
    assert any(v.startswith("**\\[1\\]") for v in body)  # evidence cards
