"""Shared fixtures and the two test tiers.

Tiers are pytest markers (registered in pyproject.toml):

- `fast` (`make test-fast`, well under a minute): parsers and other pure code, and the contract
  suites (tests/contracts/) on the toy corpus of tests/fast/corpus indexed with the deterministic
  `HashEmbedder` (tests/fast/embedder.py). A fast test never loads the embedding model: if it tries,
  it fails and says so.
- `full` (`make test`, which runs both tiers): the real model, real Chroma and the real corpus:
  the `brief_*` and `full_*` fixtures, the `full` side of the contract suites, and tests that
  build real indexes themselves.

A test with neither marker is sorted here: `full` when it uses a real-index fixture (`FULL_FIXTURES`),
sits in a module that builds real indexes (`FULL_MODULES`), is listed as too slow (`FULL_TESTS`) or
drives a browser or server; `fast` otherwise. Mark a test yourself (`@pytest.mark.full`) when the
rule gets it wrong.

The contract fixtures (`contract_corpus`, `hostile_corpus`, `empty_corpus`) are parametrized over
both tiers, so one suite checks the toy setup and the real one alike (in the style of txtai's single
test suite that every backend runs). Each yields a `ContractCorpus`: settings, an embedder, an
`assistant()` factory and the probe questions the suites ask.

The embedder is injected in one place each: `build_index` and `make_assistant`. They use the
constructors' `embedder=` parameter when it exists and otherwise patch `get_embedder` for the
duration of the build (the index) or set the assistant's cached embedder.
"""

from __future__ import annotations

import contextlib
import inspect
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from assistant.index import embeddings
from assistant.index.indexer import Indexer
from assistant.pipeline import Assistant
from assistant.settings import Settings
from tests.fast.embedder import MODEL_NAME, HashEmbedder

ROOT = Path(__file__).resolve().parents[1]
BRIEF = ROOT / "corpus" / "brief" / "quincy-brief-80-us-mexico-special-relationship.md"
SHARED = ROOT.parent / "shared"
MIRROR = SHARED / "corpus"
DEV_SET = SHARED / "eval" / "dev.jsonl"
TOY = Path(__file__).resolve().parent / "fast"
TOY_CORPUS = TOY / "corpus"
TOY_REGISTRY = TOY / "registry.json"

# Fixtures that need the real model (directly or through a real index).
FULL_FIXTURES = frozenset({
    "brief_settings", "brief_assistant", "full_settings", "full_assistant", "full_corpus",
})
# Modules whose tests build real indexes in their own fixtures or bodies.
FULL_MODULES = frozenset({
    "test_bad_input", "test_chroma_server", "test_crash", "test_eval_cli", "test_locking", "test_reindex",
    "test_ui_app", "test_ui_browser",
})
# Single tests too slow for the fast tier although they need no model (parse the 860 KB tariff
# schedule again: ~10 s each on this machine).
FULL_TESTS = frozenset({
    "test_parse_tariff.py::test_fast_and_deterministic", "test_parse_tariff.py::test_caller_kind_is_kept",
})
TIERS = ("fast", "full")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """`-m fast` does not even import the modules whose every test is `full` (streamlit, playwright ...)."""
    if config.getoption("markexpr", "") == "fast" and collection_path.stem in FULL_MODULES:
        return True
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give every test a tier marker (see the module docstring)."""
    for item in items:
        if any(item.get_closest_marker(t) for t in TIERS):
            continue
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        heavy = (
            FULL_FIXTURES.intersection(getattr(item, "fixturenames", ()))
            or module in FULL_MODULES
            or f"{module}.py::{item.name}" in FULL_TESTS
            or item.get_closest_marker("browser")
            or item.get_closest_marker("server")
        )
        item.add_marker(pytest.mark.full if heavy else pytest.mark.fast)


@pytest.fixture(autouse=True)
def _fast_tier_never_loads_the_model(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A `fast` test that reaches the real model fails at once instead of quietly taking minutes."""
    if request.node.get_closest_marker("fast") is None:
        return

    def refuse(self: Any, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError(
            f"{request.node.nodeid} is in the fast tier but loads the embedding model: use the fast "
            "fixtures (fast_settings, fast_assistant, contract_corpus) or mark it @pytest.mark.full"
        )

    monkeypatch.setattr(embeddings.Embedder, "__init__", refuse)


# ---- building indexes and assistants with a chosen embedder ---------------------------------------


def make_settings(tmp: Path, corpus: Path, **kw) -> Settings:
    kw.setdefault("registry_file", ROOT / "corpus" / "registry.json")
    return Settings(
        index_dir=tmp / "index",
        corpus_dirs=[corpus],
        user_docs_dir=corpus / "user",
        feedback_file=tmp / "feedback.jsonl",
        **kw,
    )


@contextlib.contextmanager
def _get_embedder_returns(embedder: Any) -> Iterator[None]:
    """Every `assistant.*` module's `get_embedder` returns `embedder` (wherever the indexer's jobs live)."""
    original = embeddings.get_embedder
    with pytest.MonkeyPatch.context() as mp:
        for name, module in list(sys.modules.items()):
            if name.startswith("assistant") and getattr(module, "get_embedder", None) is original:
                mp.setattr(module, "get_embedder", lambda *args, **kwargs: embedder)
        yield


def build_index(settings: Settings, embedder: Any = None, paths: list[Path] | None = None) -> Any:
    """`Indexer(settings).run(paths)`, embedding with `embedder` when one is given."""
    if embedder is None:
        return Indexer(settings).run(paths)
    if "embedder" in inspect.signature(Indexer.__init__).parameters:
        return Indexer(settings, embedder=embedder).run(paths)
    with _get_embedder_returns(embedder):
        return Indexer(settings).run(paths)


def make_assistant(settings: Settings, embedder: Any = None, **kwargs: Any) -> Assistant:
    """`Assistant(settings, **kwargs)` that embeds questions with `embedder` when one is given."""
    if embedder is None:
        return Assistant(settings, **kwargs)
    if "embedder" in inspect.signature(Assistant.__init__).parameters:
        return Assistant(settings, embedder=embedder, **kwargs)
    assistant = Assistant(settings, **kwargs)
    assistant.__dict__["embedder"] = embedder  # the cached property's value, set before first use
    return assistant


# ---- the real indexes (full tier) -----------------------------------------------------------------


@pytest.fixture(scope="session")
def brief_settings(tmp_path_factory) -> Settings:
    """An index of the brief alone."""
    tmp = tmp_path_factory.mktemp("brief")
    corpus = tmp / "corpus" / "brief"
    corpus.mkdir(parents=True)
    shutil.copy(BRIEF, corpus / BRIEF.name)
    settings = make_settings(tmp, tmp / "corpus")
    report = build_index(settings)
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
    report = build_index(settings)
    assert report.ok, report.errors
    return settings


@pytest.fixture(scope="session")
def full_assistant(full_settings) -> Assistant:
    return Assistant(full_settings)


# ---- the toy index (fast tier) --------------------------------------------------------------------


@pytest.fixture(scope="session")
def fast_embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture(scope="session")
def fast_settings(tmp_path_factory, fast_embedder) -> Settings:
    """The toy corpus (tests/fast/corpus: a statute, a treaty excerpt, an HTML note, a text brief and
    a hostile user file) indexed with the deterministic embedder; its kinds come from the toy registry."""
    tmp = tmp_path_factory.mktemp("toy")
    shutil.copytree(TOY_CORPUS, tmp / "corpus")
    settings = make_settings(tmp, tmp / "corpus", registry_file=TOY_REGISTRY, embedding_model=MODEL_NAME)
    report = build_index(settings, fast_embedder)
    assert report.ok, report.errors
    return settings


@pytest.fixture(scope="session")
def fast_assistant(fast_settings, fast_embedder) -> Assistant:
    return make_assistant(fast_settings, fast_embedder)


# ---- contract corpora: the same probes against the toy setup and the real one ----------------------


@dataclass
class Probe:
    """A question, the words its answer must contain, and where that passage lives."""

    question: str
    needle: str
    document: str
    kind: str


@dataclass
class ContractCorpus:
    tier: str  # fast | full
    settings: Settings
    embedder: Any  # None: the real model
    answerable: Probe  # answered from one passage
    filtered: Probe  # answered from a document of another kind (for kind and document filters)
    off_topic: str  # no document answers it
    hostile: Probe | None = None  # answered from the hostile user file (hostile_corpus only)
    cache: dict[str, Any] = field(default_factory=dict, repr=False)  # for suites: built-once objects
    _assistant: Assistant | None = field(default=None, repr=False)

    def assistant(self, **kwargs: Any) -> Assistant:
        """A new assistant on this index (`chat_models=` for fake LLM backends)."""
        return make_assistant(self.settings, self.embedder, **kwargs)

    @property
    def shared(self) -> Assistant:
        """One assistant reused across tests (for read-only questions)."""
        if self._assistant is None:
            self._assistant = self.assistant()
        return self._assistant


# No document of either corpus answers it. (The full corpus does *not* abstain on "What is the
# boiling point of liquid nitrogen at sea level?": tariff lines for measuring liquid levels and
# 19 U.S.C. text on sea fish carry its words; an abstention-quality matter for bench/, not a contract.)
OFF_TOPIC = "How many moons does Jupiter have?"
HOSTILE_FILE = TOY_CORPUS / "user" / "quokka-notes.txt"
HOSTILE_PROBE = Probe(
    "What is the Quokka clove quota under the memo?", "4,321 tonnes", "user/quokka-notes.txt", "user"
)


def _fast_corpus(settings: Settings, embedder: Any) -> ContractCorpus:
    return ContractCorpus(
        "fast", settings, embedder,
        answerable=Probe("What is the cheese quota under the Toy Dairy Access Act?", "12,500 tonnes",
                         "toy-dairy-access-act.md", "law"),
        filtered=Probe("What regional value content must a passenger vehicle reach?", "75 percent",
                       "toy-rules-of-origin.md", "treaty"),
        off_topic=OFF_TOPIC,
        hostile=HOSTILE_PROBE,
    )


def _full_corpus(settings: Settings, hostile: bool = False) -> ContractCorpus:
    return ContractCorpus(
        "full", settings, None,
        answerable=Probe("How many workers did the Rapid Response Mechanism settlements benefit?", "36,000",
                         BRIEF.name, "brief"),
        filtered=Probe("May a Party increase an existing customs duty on an originating good?",
                       "no Party shall increase any existing customs duty",
                       "usmca-ch02-national-treatment-and-market-access-for-goods.html", "treaty"),
        off_topic=OFF_TOPIC,
        hostile=HOSTILE_PROBE if hostile else None,
    )


@pytest.fixture(scope="session")
def fast_corpus(fast_settings, fast_embedder) -> ContractCorpus:
    return _fast_corpus(fast_settings, fast_embedder)


@pytest.fixture(scope="session")
def full_corpus(full_settings) -> ContractCorpus:
    return _full_corpus(full_settings)


TIER_PARAMS = [pytest.param("fast", marks=pytest.mark.fast), pytest.param("full", marks=pytest.mark.full)]


@pytest.fixture(scope="session", params=TIER_PARAMS)
def contract_corpus(request) -> ContractCorpus:
    """The toy corpus (fast) or the brief plus the mirror with the real model (full)."""
    return request.getfixturevalue(f"{request.param}_corpus")


@pytest.fixture(scope="session", params=TIER_PARAMS)
def hostile_corpus(request, tmp_path_factory) -> ContractCorpus:
    """An index that holds the hostile user file (tests/fast/corpus/user/quokka-notes.txt): the toy
    index has it; the full side is a private copy of the full index with the file added."""
    if request.param == "fast":
        return request.getfixturevalue("fast_corpus")
    full: Settings = request.getfixturevalue("full_settings")
    tmp = tmp_path_factory.mktemp("full_hostile")
    shutil.copytree(full.corpus_dirs[0], tmp / "corpus")
    shutil.copytree(full.index_dir, tmp / "index")
    settings = make_settings(tmp, tmp / "corpus")
    user = tmp / "corpus" / "user"
    user.mkdir(exist_ok=True)
    shutil.copy(HOSTILE_FILE, user / HOSTILE_FILE.name)
    report = build_index(settings, paths=[user / HOSTILE_FILE.name])
    assert report.ok and report.indexed == [f"user/{HOSTILE_FILE.name}"], report.errors
    return _full_corpus(settings, hostile=True)


@pytest.fixture(scope="session", params=TIER_PARAMS)
def empty_corpus(request, tmp_path_factory) -> ContractCorpus:
    """An index built over an empty corpus folder, with the tier's embedder."""
    tmp = tmp_path_factory.mktemp(f"empty_{request.param}")
    (tmp / "corpus").mkdir()
    if request.param == "fast":
        embedder = request.getfixturevalue("fast_embedder")
        settings = make_settings(tmp, tmp / "corpus", registry_file=TOY_REGISTRY, embedding_model=MODEL_NAME)
        build_index(settings, embedder)
        return _fast_corpus(settings, embedder)
    settings = make_settings(tmp, tmp / "corpus")
    build_index(settings)
    return _full_corpus(settings)
