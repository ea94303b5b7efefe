"""The evaluation report's templates: hostile document text and model output come out as data in
both renderings, the templates ship with the package, and answer length and evidence share sit
beside must-mention."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from importlib import resources
from pathlib import Path

from assistant.evaluate.metrics import METRIC_KEYS, SUMMARY_KEYS
from assistant.evaluate.report import METRIC_LABELS, RunData, md_escape, write_report

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = '</td></tr></table><script>alert("x")</script> | **bold** [link](http://evil) {{ 7*7 }}\n# heading'


def hostile_run() -> RunData:
    metrics = {"n_evidence": 1, "first_hit_rank": None, "evidence_ranks": [None], "evidence_recall_at_10": 0.0,
               "must_mention": 0.5, "mentions_missing": [HOSTILE], "citation_precision": 0.5,
               "evidence_citation_share": 0.25, "latency_ms": 12.0}
    row = {
        "id": "x<1>", "question": HOSTILE, "kind": "fact|<b>", "answerable": True, "evidence": [HOSTILE],
        "must_mention": ["ok", HOSTILE], "standalone_question": "Understood " + HOSTILE,
        "history": [{"question": HOSTILE, "standalone_question": HOSTILE, "answer": HOSTILE, "abstained": False}],
        "retrieved": [{"rank": 1, "chunk_id": "c<1>", "document_id": "d|1", "label": HOSTILE, "snippet": HOSTILE}],
        "answer": HOSTILE, "answer_words": 17, "not_covered": [HOSTILE], "abstained": False, "error": "",
        "metrics": metrics,
    }
    summary = {k: None for k in SUMMARY_KEYS}
    summary.update(n=1, n_answerable=1, must_mention=0.5, answer_words_p50=17.0, evidence_citation_share=0.25,
                   by_kind={"fact|<b>": {k: None for k in METRIC_KEYS}}, n_followups=1,
                   by_turn={"followup": {k: None for k in METRIC_KEYS}},
                   meta={"retriever": "hybrid", "question_file": HOSTILE, "hit_at_k_curve": [None] * 10,
                         "malformed_lines": [{"line": 3, "reason": HOSTILE}], "warmup_error": HOSTILE})
    return RunData(summary, [row])


def test_hostile_text_is_escaped_in_html_and_markdown(tmp_path: Path):
    written = write_report(tmp_path, [hostile_run()], [RunData(hostile_run().summary, [], label=HOSTILE)])
    page = written["report.html"].read_text(encoding="utf-8")
    assert "<script" not in page and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "</td></tr></table><script>" not in page and "{{ 7*7 }}" in page  # data, never evaluated
    assert page.count("<table>") == page.count("</table>")
    md = written["report.md"].read_text(encoding="utf-8")
    assert "<script" not in md and "&lt;script&gt;" in md
    assert "\\*\\*bold\\*\\*" in md and "\\[link\\](http://evil)" in md
    assert "\n# heading" not in md  # a newline in data never starts a Markdown block
    # every table row keeps its column count: pipes in data are escaped
    for block in re.findall(r"(?:^\|.*\|\n)+", md, flags=re.M):
        rows = block.splitlines()
        counts = {len(re.findall(r"(?<!\\)\|", r)) for r in rows}
        assert len(counts) == 1, rows
    assert "](hit_at_k.png)" in md  # file names the code chose stay as written


def test_md_escape():
    assert md_escape("a|b *c* _d_ <e>\n f") == "a\\|b \\*c\\* \\_d\\_ &lt;e&gt; f"


def test_length_and_evidence_share_sit_beside_must_mention(tmp_path: Path):
    md = write_report(tmp_path, [hostile_run()])["report.md"].read_text(encoding="utf-8")
    headline = [line.split("|")[1].strip() for line in md.split("## Headline metrics")[1].split("##")[0].splitlines()
                if line.startswith("| ") and not line.startswith("| metric")]
    i = headline.index(METRIC_LABELS["must_mention"])
    assert headline[i + 1 : i + 3] == [METRIC_LABELS["answer_words_p50"], METRIC_LABELS["evidence_citation_share"]]
    assert "| answer words p50 | 17 |" in md and "| evidence citation share | 25.0% |" in md
    questions = md.split("## All questions (weakest first)")[1]
    assert "| must-mention | words | evidence share |" in questions
    assert "| 50.0% | 17 | 25.0% |" in questions
    assert "**Answer length and evidence:** 17 words; evidence citation share 25.0%" in md


def test_templates_ship_as_package_data():
    templates = resources.files("assistant.evaluate") / "templates"
    names = sorted(p.name for p in templates.iterdir() if p.is_file())
    assert names == ["report.html.j2", "report.md.j2"]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = pyproject["tool"]["setuptools"]["package-data"]["assistant.evaluate"]
    assert all(any(fnmatch.fnmatch(f"templates/{n}", g) for g in globs) for n in names)
    deps = [d.split(">")[0].split("=")[0].split("<")[0].lower() for d in pyproject["project"]["dependencies"]]
    assert "jinja2" in deps
    pins = (ROOT / "constraints.txt").read_text(encoding="utf-8").lower().splitlines()
    assert any(p.startswith("jinja2==") for p in pins)
