"""The sealed question sets are judged once, at the end: nothing in the product may be fitted to them.

A sealed question, or any run of six of its words, found in assistant/, ui/ or tests/ means someone
wrote a rule, a word list or a test for a question that is supposed to be unseen. A run counts when
at least four of its words are topical (not function words, question vocabulary or scope words such
as "what does the brief recommend on"): shared question templates are not leaks."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from assistant.index.lexical import tokenize
from assistant.retrieve.analysis import QUESTION_VOCABULARY, SCOPE_VOCABULARY

ROOT = Path(__file__).resolve().parents[1]
SEALED = sorted((ROOT / "bench" / "questions").glob("sealed*.jsonl"))
RUN = 6


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9áéíóúñü]+", text.lower())


TOPICAL_MIN = 4
# Spanish function and asking words (the English ones come from the product's own word lists).
_SPANISH_TEMPLATE = frozenset(re.findall(r"\S+", """
el la los las lo un una unos unas de del al a en y o que qué cuál cuáles cuánto cuánta cuántos cuántas
cómo cuándo dónde quién quiénes por para con sin sobre según entre es son fue fueron ser está están ha
han hay se su sus este esta estos estas ese esa eso informe dice dicen dijo puede pueden debe deben
"""))


def _topical(word: str) -> bool:
    stems = tokenize(word)
    return len(word) > 2 and word not in _SPANISH_TEMPLATE and bool(stems) and all(
        t not in QUESTION_VOCABULARY and t not in SCOPE_VOCABULARY for t in stems)


def _runs(text: str, *, topical_only: bool = False) -> set[tuple[str, ...]]:
    w = _words(text)
    runs = {tuple(w[i:i + RUN]) for i in range(len(w) - RUN + 1)}
    return {r for r in runs if sum(map(_topical, r)) >= TOPICAL_MIN} if topical_only else runs


def _sealed_texts() -> list[str]:
    out = []
    for path in SEALED:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                out += [row["question"], *(row.get("history") or []), row.get("standalone") or "", row.get("twin") or ""]
    return [t for t in out if t]


def _code_runs() -> dict[tuple[str, ...], Path]:
    runs: dict[tuple[str, ...], Path] = {}
    for folder in ("assistant", "ui", "tests"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".py", ".json", ".jsonl", ".md", ".txt", ".html", ".j2", ".toml"} and path.is_file():
                for run in _runs(path.read_text(encoding="utf-8", errors="replace")):
                    runs.setdefault(run, path)
    return runs


def test_the_sealed_sets_are_present():
    assert len(SEALED) >= 1 and sum(len(p.read_text(encoding="utf-8").splitlines()) for p in SEALED) >= 80


def test_no_sealed_question_appears_in_the_code_or_the_tests():
    code = _code_runs()
    leaks = []
    for text in _sealed_texts():
        for run in _runs(text, topical_only=True):
            if run in code:
                leaks.append(f"{' '.join(run)!r} in {code[run].relative_to(ROOT)}")
                break
    assert not leaks, "sealed questions leaked into the code:\n" + "\n".join(leaks[:10])


@pytest.mark.parametrize("probe", ["What does the brief propose on softwood lumber duties for Canadian sawmills now"])
def test_the_check_finds_a_planted_run_and_ignores_templates(probe):
    runs = _runs(probe, topical_only=True)
    assert ("softwood", "lumber", "duties", "for", "canadian", "sawmills") in runs
    assert ("what", "does", "the", "brief", "propose", "on") not in runs
