"""Questions on the treaty, the tariff schedule, the U.S. Code and the proclamations (full mirror corpus)."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def cited_locations(answer):
    return [c.location for c in answer.citations]


def test_article_question_cites_the_article(full_assistant):
    a = full_assistant.ask("What does Article 2.4 say about customs duties on originating goods?")
    assert not a.abstained
    assert any(loc.startswith("USMCA Art. 2.4") for loc in cited_locations(a)), cited_locations(a)


def test_joint_review_question_cites_19_usc_4611(full_assistant):
    a = full_assistant.ask("What must USTR do before the joint review?")
    assert not a.abstained
    assert any(loc.startswith("19 U.S.C. § 4611") for loc in cited_locations(a)), cited_locations(a)


def test_tariff_item_question_cites_that_line(full_assistant):
    a = full_assistant.ask("What is the USMCA rate for tariff item 0101.21.00?")
    assert not a.abstained
    assert a.citations and "0101.21.00" in a.citations[0].location
    assert "0101.21.00" in a.citations[0].quote


def test_tariff_lines_do_not_crowd_out_prose(full_assistant):
    hits = full_assistant.retrieve("What does the brief say about rules of origin for autos?", 10)
    assert not any(h.chunk.kind == "tariff" for h in hits)


def test_proclamation_clause_cited(full_assistant):
    a = full_assistant.ask("Under the March 2025 auto tariff proclamation, how can importers of USMCA cars pay only on non-U.S. content?")
    assert not a.abstained
    assert any(loc.startswith("Proclamation 10908, cl.") for loc in cited_locations(a)), cited_locations(a)


def test_sources_lists_documents_and_footnote_status(full_settings):
    env = dict(os.environ, ASSISTANT_INDEX_DIR=str(full_settings.index_dir))
    out = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "sources", "--json"],
        capture_output=True, text=True, env=env, timeout=300, check=True,
    )
    docs = {d["document_id"]: d for d in json.loads(out.stdout)}
    for doc_id, kind in [
        ("quincy-brief-80-us-mexico-special-relationship.md", "brief"),
        ("usmca-ch02-national-treatment-and-market-access-for-goods.html", "treaty"),
        ("usmca-ch02-annex-2-b-tariff-schedule-of-canada.html", "tariff"),
        ("19-usc-chapter-29-usmca-implementation.md", "law"),
        ("fr-2025-07833-amendments-to-adjusting-imports-of-automobiles-and-automobile-parts.html", "source"),
        ("fr-2025-05930-adjusting-imports-of-automobiles-and-automobile-parts.html", "source"),
    ]:
        assert docs[doc_id]["kind"] == kind
        assert docs[doc_id]["chunks"] > 0
    out = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "sources", "--footnotes", "--json"],
        capture_output=True, text=True, env=env, timeout=300, check=True,
    )
    notes = {f["footnote"]: f for f in json.loads(out.stdout)}
    assert sorted(notes) == list(range(1, 63))
    assert notes[29]["status"] == "indexed"
    assert notes[29]["document_id"].startswith("fr-2025-07833")
    assert notes[1]["status"] == "reference only" and "ustr.gov" in notes[1]["url"]


def test_a_question_about_the_brief_is_answered_from_the_brief(full_assistant):
    hits = full_assistant.retrieve("What does the brief want done about rules of origin in the review?", 5)
    assert hits and all(h.chunk.kind == "brief" for h in hits)
    # naming a legal text keeps every document in play
    hits = full_assistant.retrieve("How does the brief's view compare with 19 U.S.C. § 4532 on rules of origin?", 8)
    assert hits[0].chunk.label.startswith("19 U.S.C. § 4532")
