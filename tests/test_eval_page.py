"""The Evaluation page runs a conversation file and documents the format from inside the project."""

from __future__ import annotations

import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "ui" / "app.py"
CONVERSATIONS = Path(__file__).resolve().parent / "data" / "conversations.jsonl"


def test_nothing_in_the_product_points_outside_the_project():
    for folder in ("assistant", "ui"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".j2", ".md", ".toml") and path.is_file():
                text = path.read_text(encoding="utf-8")
                assert not re.search(r"shared/eval|\.\./shared", text), path
    guide = (ROOT / "docs" / "evaluation.md").read_text(encoding="utf-8")
    for field in ("`history`", "`documents`", "`articles`", "`standalone`", "`twin`"):
        assert field in guide
    from assistant.evaluate.metrics import SUMMARY_KEYS

    for key in SUMMARY_KEYS:
        assert f"`{key}`" in guide, key


def test_evaluation_page_runs_conversations_and_shows_the_guide(brief_settings, monkeypatch):
    env = {
        "ASSISTANT_INDEX_DIR": str(brief_settings.index_dir),
        "ASSISTANT_CORPUS_DIRS": str(brief_settings.corpus_dirs[0]),
        "ASSISTANT_ANSWER_BACKEND": "extractive",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    at = AppTest.from_file(str(APP), default_timeout=300)
    at.run()
    at.switch_page("views/evaluation.py").run()
    assert not at.exception
    guide = [e for e in at.expander if "docs/evaluation.md" in e.label]
    assert len(guide) == 1
    assert any("Conversations" in m.value for m in guide[0].markdown)
    assert "docs/evaluation.md" in at.caption[0].value and "shared/" not in at.caption[0].value

    data = CONVERSATIONS.read_bytes()
    at.file_uploader(key="eval_file").set_value(("conversations.jsonl", data, "application/jsonl")).run()
    next(b for b in at.button if b.label == "Run evaluation").click().run()
    assert not at.exception
    summary = at.session_state["eval_run"]["summary"]
    assert summary["n"] == 5 and summary["n_followups"] == 4 and summary["meta"]["n_errors"] == 0
    labels = {m.label for m in at.metric}
    assert {"must-mention", "answer words p50", "evidence citation share"} <= labels
    assert any("Follow-ups and standalone questions" in m.value for m in at.markdown)
    turn_table = next(d.value for d in at.dataframe if "turn" in d.value.columns)
    assert list(turn_table["turn"]) == ["standalone (no history)", "follow-up (after earlier turns)"]
    assert list(turn_table["questions"]) == ["1", "4"]
