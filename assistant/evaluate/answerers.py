"""One answer function per retriever, so an evaluation run can compare retrievers on equal terms.

`hybrid`, `dense` and `bm25` are the product itself (`Assistant.ask(question, mode=...)`). `naive` is
the stock LangChain recipe (`assistant.retrieve.naive`) put in place of the product's retrieval
inside the same `Assistant`: question handling, abstention, the extractive composer (or the LLM
backend), verification and citations are the product's, so the metrics differ only by what was
retrieved. The index holds no sentence vectors for naive pieces, so the composer and the
abstention rule fall back to each piece's similarity (their `vector=None` path). The brief's
recommendation summary, which answers "what does the brief recommend on X" without retrieval, is
not available to the naive baseline: it would hide the retriever being measured.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from assistant.domain import Answer
from assistant.index.vectors import VectorStore
from assistant.pipeline import Assistant
from assistant.retrieve import naive
from assistant.retrieve.analysis import QueryAnalysis
from assistant.retrieve.hybrid import Retrieval

RETRIEVERS = ("hybrid", "dense", "bm25", "naive")
PRODUCT_MODES = ("hybrid", "dense", "bm25")

AnswerFn = Callable[..., Answer]  # (question, history=None) -> Answer


def make_naive_retriever(assistant: Assistant) -> naive.NaiveRetriever:
    """The naive retriever over the assistant's index, with its own Chroma collection."""
    vectors = VectorStore(assistant.vectors.client, assistant.settings.embedding_model, namespace=naive.NAMESPACE)
    return naive.NaiveRetriever(assistant.reader, vectors, assistant.embedder)


class NaiveAssistant(Assistant):
    """The product's answering pipeline fed by the naive retriever.

    Shares the base assistant's settings, index reader, embedding model and Chroma client."""

    def __init__(self, base: Assistant, retriever: naive.NaiveRetriever | None = None):
        super().__init__(base.settings)
        self.reader = base.reader
        # cached_property keeps its value in the instance dict: reuse the loaded resources
        self.__dict__["embedder"] = base.embedder
        self.__dict__["vectors"] = base.vectors
        self.naive = retriever or make_naive_retriever(base)

    def retrieve_analysed(
        self,
        analysis: QueryAnalysis,
        k: int | None = None,
        *,
        kinds: set[str] | None = None,
        documents: set[str] | None = None,
        mode: str = "hybrid",
        **_ignored: Any,
    ) -> Retrieval:
        """Top-k naive pieces (k defaults to the recipe's 4); `mode` has no meaning here."""
        snap = self.reader.snapshot()
        chunks = self.naive.search(analysis.search_text, k or naive.TOP_K, kinds=kinds, documents=documents)
        return Retrieval(chunks, snap, self.embedder.embed_query(analysis.search_text))

    def _recommendations(self, q: Any) -> Answer | None:  # the recipe has no recommendation summary
        return None


def effective_k(name: str, assistant: Assistant, k: int | None) -> int:
    """The depth a retriever really uses: the given k, else its own default."""
    if k:
        return k
    return naive.TOP_K if name == "naive" else assistant.settings.top_k


def make_answer_fn(
    name: str,
    assistant: Assistant,
    *,
    k: int | None = None,
    backend: str | None = None,
) -> AnswerFn:
    """(question, history=None) -> Answer for one retriever name (see RETRIEVERS). `history` is the
    conversation so far as `Assistant.ask` takes it; `backend` (None: the settings' answer backend)
    is passed to `Assistant.ask` by keyword."""
    options: dict[str, Any] = {"k": k}
    if backend:
        options["backend"] = backend
    if name in PRODUCT_MODES:
        options["mode"] = name
        target = assistant
    elif name == "naive":
        target = NaiveAssistant(assistant)
    else:
        raise ValueError(f"unknown retriever '{name}' (choose from {', '.join(RETRIEVERS)})")

    def answer_fn(question: str, history: list[tuple[str, str]] | None = None) -> Answer:
        return target.ask(question, history=history, **options)

    return answer_fn
