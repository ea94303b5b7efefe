"""Shared fixtures: real indexes built once per test session with the real model and real Chroma."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant.index.indexer import Indexer
from assistant.pipeline import Assistant
from assistant.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
BRIEF = ROOT / "corpus" / "brief" / "quincy-brief-80-us-mexico-special-relationship.md"
SHARED = ROOT.parent / "shared"
MIRROR = SHARED / "corpus"
DEV_SET = SHARED / "eval" / "dev.jsonl"


def make_settings(tmp: Path, corpus: Path, **kw) -> Settings:
    return Settings(
        index_dir=tmp / "index",
        corpus_dirs=[corpus],
        registry_file=ROOT / "corpus" / "registry.json",
        user_docs_dir=corpus / "user",
        feedback_file=tmp / "feedback.jsonl",
        **kw,
    )


@pytest.fixture(scope="session")
def brief_settings(tmp_path_factory) -> Settings:
    """An index of the brief alone."""
    tmp = tmp_path_factory.mktemp("brief")
    corpus = tmp / "corpus" / "brief"
    corpus.mkdir(parents=True)
    shutil.copy(BRIEF, corpus / BRIEF.name)
    settings = make_settings(tmp, tmp / "corpus")
    report = Indexer(settings).run()
    assert report.ok, report.errors
    return settings


@pytest.fixture(scope="session")
def brief_assistant(brief_settings) -> Assistant:
    return Assistant(brief_settings)


@pytest.fixture(scope="session")
def full_settings(tmp_path_factory) -> Settings:
    """The brief plus every document of the shared mirror (treaty, tariff schedule, U.S. Code, FR)."""
    if not MIRROR.is_dir():
        pytest.skip("the shared mirror ../shared/corpus is not present")
    from assistant.ingest.fetch import fetch_documents
    from assistant.ingest.registry import load_registry

    tmp = tmp_path_factory.mktemp("full")
    corpus = tmp / "corpus"
    (corpus / "brief").mkdir(parents=True)
    shutil.copy(BRIEF, corpus / "brief" / BRIEF.name)
    results = fetch_documents(load_registry(ROOT / "corpus" / "registry.json"), corpus, mirror=MIRROR)
    assert not [r for r in results if r.status == "failed"], results
    settings = make_settings(tmp, corpus)
    report = Indexer(settings).run()
    assert report.ok, report.errors
    return settings


@pytest.fixture(scope="session")
def full_assistant(full_settings) -> Assistant:
    return Assistant(full_settings)
