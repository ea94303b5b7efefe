"""Settings and the heavy, shared resources of the app, created once per process.

Settings are read fresh from the environment on every script run (cheap), so a test or an operator
that points `ASSISTANT_INDEX_DIR` elsewhere gets a matching Assistant; the Assistant (embedding
model, Chroma client, retriever) is cached per distinct settings, so a question never reloads the
model or re-embeds the corpus. The Assistant reloads its index snapshot itself when the manifest
changes (after an upload or removal).
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Iterator
from typing import Any

import streamlit as st

from assistant.domain import Answer
from assistant.index.store import Snapshot
from assistant.pipeline import Assistant
from assistant.settings import Settings

EXTRACTIVE = "extractive"
log = logging.getLogger(__name__)


def load_settings() -> Settings:
    return Settings()


@st.cache_resource(show_spinner=False, max_entries=4)
def _assistant(settings_json: str) -> Assistant:
    """One Assistant per settings and process. The page only needs the index snapshot, so the
    embedding model and Chroma load in the background while the user reads and types; a question
    asked before that finishes waits for it (the Assistant's cached properties are locked)."""
    assistant = Assistant(Settings.model_validate_json(settings_json))
    threading.Thread(target=_warm_up, args=(assistant,), name="assistant-warm-up", daemon=True).start()
    return assistant


def _warm_up(assistant: Assistant) -> None:
    try:
        assistant.retriever  # noqa: B018 - loads the embedding model and opens Chroma
        assistant.embedder.embed_query("warm up")
    except Exception:  # the first question raises it again, where the user sees it
        log.exception("warming up the assistant failed")


def model_ready(settings: Settings) -> bool:
    return "retriever" in vars(get_assistant(settings))


def get_assistant(settings: Settings) -> Assistant:
    return _assistant(settings.model_dump_json())


def snapshot(settings: Settings) -> Snapshot:
    return get_assistant(settings).reader.snapshot()


def available_backends(settings: Settings) -> list[str]:
    """Extractive always (no model needed); the LLM backend when settings configure one."""
    names = [EXTRACTIVE]
    if settings.answer_backend and settings.answer_backend not in names:
        names.append(settings.answer_backend)
    if settings.llamacpp_model_path and "llamacpp" not in names:
        names.append("llamacpp")
    return names


def _accepts(fn: Any, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def answer_stream(
    assistant: Assistant,
    question: str,
    *,
    history: list[tuple[str, str]],
    backend: str | None,
    kinds: set[str] | None,
    documents: set[str] | None,
) -> Iterator[str | Answer]:
    """Text pieces, then the final Answer: `Assistant.stream` when the pipeline has it, else one
    piece from `Assistant.ask`. Arguments the pipeline does not take yet are not passed."""
    kwargs: dict[str, Any] = {"kinds": kinds, "documents": documents}
    stream = getattr(assistant, "stream", None)
    fn = stream if callable(stream) else assistant.ask
    if _accepts(fn, "history"):
        kwargs["history"] = history
    if _accepts(fn, "backend"):
        kwargs["backend"] = backend
    if fn is stream:
        yield from stream(question, **kwargs)
        return
    answer = assistant.ask(question, **kwargs)
    yield answer.text
    yield answer
