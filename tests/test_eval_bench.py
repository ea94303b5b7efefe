"""bench/conversations.py and bench/spanish_pairs.py end to end on the real brief index, with small
files in tests/data (the scripts' own index building is replaced by the session's brief index)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def bench(brief_settings, brief_assistant, monkeypatch, tmp_path):
    """Runs a bench script's main() against the brief index, results written under tmp_path."""

    def run(name: str, *args: str) -> tuple[int, dict, str]:
        module = load_script(name)
        monkeypatch.setattr(module, "full_corpus_settings", lambda *_a, **_k: brief_settings)
        monkeypatch.setattr(module, "Assistant", lambda _settings: brief_assistant)
        monkeypatch.setattr(sys.modules["_machine"], "RESULTS", tmp_path / "results")
        monkeypatch.setattr(sys, "argv", [name, *args, "--out", str(tmp_path / name)])
        code = module.main()
        (result,) = (tmp_path / "results").glob(f"{name}*.json")
        return code, json.loads(result.read_text(encoding="utf-8")), result.name

    return run


def test_conversations_script(bench, capsys):
    file = DATA / "conversations.jsonl"
    code, figures, name = bench("conversations", "--file", str(file))
    out = capsys.readouterr().out
    assert code == 0 and name == "conversations-conversations.json"
    assert (figures["n_questions"], figures["n_followups"], figures["n_paired"]) == (5, 4, 4)
    for side in ("conversation", "standalone"):
        assert figures[side]["n"] == 4
        assert figures[side]["abstain_accuracy"] is not None  # one follow-up is unanswerable
    gap = figures["gap_conversation_minus_standalone"]
    assert gap["hit_at_5"] == pytest.approx(figures["conversation"]["hit_at_5"] - figures["standalone"]["hit_at_5"])
    assert isinstance(figures["copied"], list) and len(figures["understood"]) == 4
    assert {u["id"] for u in figures["understood"]} == {"c-rank", "c-rrm", "c-power", "c-books"}
    assert all(u["understood_as"] for u in figures["understood"])
    for line in ("hit_at_5", "mrr_at_10", "must_mention", "abstain_accuracy", "false_abstain_rate", "copied"):
        assert line in out


def test_spanish_pairs_script(bench, capsys):
    file = DATA / "spanish_pairs.jsonl"
    code, figures, name = bench("spanish_pairs", "--file", str(file))
    out = capsys.readouterr().out
    assert code == 0 and name == "spanish_pairs-spanish_pairs.json"
    assert figures["n_pairs"] == 2 and figures["spanish"]["n"] == figures["english"]["n"] == 2
    assert [q["english"] for q in figures["per_question"]] == [
        "Which party does President Sheinbaum belong to, and who founded it?",
        "Since when has the Quincy Institute existed, and what has it committed to on transparency?",
    ]
    assert figures["per_question"][0]["spanish"].startswith("¿A qué partido")
    gap = figures["gap_spanish_minus_english"]
    assert set(gap) >= {"hit_at_5", "mrr_at_10", "must_mention"}
    for line in ("hit_at_5", "mrr_at_10", "must_mention", "spanish", "english", "gap"):
        assert line in out


def test_spanish_pairs_tuning_file_is_well_formed():
    from assistant.evaluate.pairs import twin_field
    from assistant.evaluate.questions import load_questions

    path = ROOT / "bench" / "questions" / "spanish_pairs_tuning.jsonl"
    questions, errors = load_questions(path)
    twins = twin_field(path, "twin")
    assert not errors and len(questions) == 20 and set(twins) == {q.id for q in questions}
    assert all(q.question.startswith("¿") or "¿" in q.question for q in questions)
