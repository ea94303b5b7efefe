"""Answer backends by name, without importing any of them: the extractive default needs no LLM
library, so a command that answers extractively never pays for importing LangChain's chat models."""

from __future__ import annotations

EXTRACTIVE = "extractive"
LLM_BACKENDS = ("ollama", "openai", "llamacpp")
BACKENDS = (EXTRACTIVE, *LLM_BACKENDS)


class BackendUnavailable(RuntimeError):
    """The configured backend cannot be built (missing package, model file or setting)."""


def describe_error(e: Exception) -> str:
    """An exception in one line for a warning (type, then at most 200 characters of its message)."""
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text[:200]}" if text else type(e).__name__
