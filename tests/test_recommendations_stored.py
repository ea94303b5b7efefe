"""The brief's recommendations are extracted when the brief is indexed and stored with the index
generation: the stored records equal a fresh extraction, an unchanged brief reuses them, an edited
brief is extracted again. Real brief, real model, real Chroma."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant.answer.recommend import extract_recommendations
from assistant.answer.recommend_subject import recommendations_for
from assistant.index import store
from assistant.index.indexer import Indexer
from assistant.ingest.recommendations import LEXICON_FILE, TOPICS
from tests.conftest import BRIEF, make_settings


def records(recs) -> list[dict]:
    return [r.to_json() for r in recs]


def test_stored_records_equal_a_fresh_extraction_of_the_real_brief(brief_settings):
    snap = store.load_snapshot(brief_settings.index_dir)
    assert snap.stored_recommendations is not None, "the generation carries recommendations.json"
    folder = store.generation_dir(brief_settings.index_dir, snap.generation)
    assert (folder / store.RECOMMENDATIONS).is_file()
    assert store.verify_generation(brief_settings.index_dir, snap.generation) == []  # listed in files.json
    stored = snap.recommendations
    fresh = extract_recommendations(snap)
    assert len(stored) >= 10
    assert records(stored) == records(fresh)
    assert {r.document_id for r in stored} == {next(iter({c.document_id for c in snap.chunks.values()}))}


def test_lexicons_are_packaged_data():
    assert LEXICON_FILE.is_file() and LEXICON_FILE.suffix == ".json"
    assert list(TOPICS)[:3] == ["energy", "labor", "autos"]  # the file's order is the display order


@pytest.fixture(scope="module")
def own_brief(tmp_path_factory):
    """An index of the brief that this module may change."""
    tmp = tmp_path_factory.mktemp("brief-recs")
    corpus = tmp / "corpus"
    (corpus / "brief").mkdir(parents=True)
    shutil.copy(BRIEF, corpus / "brief" / BRIEF.name)
    settings = make_settings(tmp, corpus)
    report = Indexer(settings).run()
    assert report.ok, report.errors
    assert len(report.recommendations_extracted) == 1
    return settings


def test_unchanged_brief_reuses_and_edited_brief_re_extracts(own_brief):
    settings = own_brief
    corpus = Path(settings.corpus_dirs[0])
    first = store.load_snapshot(settings.index_dir)
    brief_id = next(iter(first.stored_recommendations.keys))

    # another document changes the generation; the brief's records are reused as they were
    (corpus / "note.md").write_text("# Note\n\nA short note on sugar quotas.\n", encoding="utf-8")
    report = Indexer(settings).run()
    assert report.ok and report.indexed == ["note.md"] and report.recommendations_extracted == []
    second = store.load_snapshot(settings.index_dir)
    assert second.generation != first.generation
    assert records(second.recommendations) == records(first.recommendations)

    # an edit to the brief that adds a recommendation is extracted again and found by lookup
    path = corpus / "brief" / BRIEF.name
    text = path.read_text(encoding="utf-8")
    at = text.index("## About the author")  # a new last paragraph of the conclusion
    added = "The United States should consider a joint sugar accord with Mexico to stabilize quotas.\n\n"
    path.write_text(text[:at] + added + text[at:], encoding="utf-8")
    report = Indexer(settings).run()
    assert report.ok and report.indexed == [brief_id] and report.recommendations_extracted == [brief_id]
    third = store.load_snapshot(settings.index_dir)
    titles = [r.title for r in third.recommendations]
    assert any("joint sugar accord" in t for t in titles), titles
    assert records(third.recommendations) == records(extract_recommendations(third))
    assert any("joint sugar accord" in r.title for r in recommendations_for("sugar accord", third))
