"""Opt-in LLM backends as LangChain chat models, built from settings.

- `ollama`: `langchain_ollama.ChatOllama` against `ASSISTANT_LLM_BASE_URL` (default
  http://127.0.0.1:11434).
- `openai`: `langchain_openai.ChatOpenAI` against any OpenAI-compatible server
  (`ASSISTANT_LLM_BASE_URL`, `ASSISTANT_LLM_API_KEY`); this also serves llama.cpp's own server
  (`llama-server` or `python -m llama_cpp.server`).
- `llamacpp`: a GGUF file (`ASSISTANT_LLAMACPP_MODEL_PATH`) run in-process by llama-cpp-python,
  wrapped as a small `BaseChatModel`. llama-cpp-python is an optional extra
  (`pip install '.[llamacpp]'`): it is imported only when this backend is used, and its absence is
  reported as a `BackendUnavailable` with the install hint.

Nothing here is imported on the default (extractive) path, and nothing connects at construction:
an unreachable server shows up when the model is first called, where the pipeline turns it into a
warning and an extractive answer.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from assistant.answer.backends import BACKENDS, EXTRACTIVE, LLM_BACKENDS, BackendUnavailable
from assistant.settings import Settings

__all__ = ["BACKENDS", "EXTRACTIVE", "LLM_BACKENDS", "BackendUnavailable", "LlamaCppChatModel", "make_chat_model"]

DEFAULT_OLLAMA_URL = "http://127.0.0.1:11434"
DEFAULT_OLLAMA_MODEL = "llama3.2"
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"


def make_chat_model(backend: str, settings: Settings) -> BaseChatModel:
    """The chat model for `backend` ("ollama", "openai", "llamacpp"), configured from settings."""
    temperature = settings.llm_temperature
    if backend == "ollama":
        from langchain_ollama import ChatOllama

        return ChatOllama(
            model=settings.llm_model or DEFAULT_OLLAMA_MODEL,
            base_url=settings.llm_base_url or DEFAULT_OLLAMA_URL,
            temperature=temperature,
            num_predict=settings.llm_max_tokens,
            client_kwargs={"timeout": settings.llm_timeout_s},
        )
    if backend == "openai":
        from langchain_openai import ChatOpenAI

        kwargs: dict[str, Any] = {}
        if settings.llm_base_url:
            kwargs["base_url"] = settings.llm_base_url
        return ChatOpenAI(
            model=settings.llm_model or DEFAULT_OPENAI_MODEL,
            # a local OpenAI-compatible server needs no key, but the client insists on one
            api_key=settings.llm_api_key or "not-needed",
            temperature=temperature,
            max_tokens=settings.llm_max_tokens,
            timeout=settings.llm_timeout_s,
            max_retries=1,
            **kwargs,
        )
    if backend == "llamacpp":
        if not settings.llamacpp_model_path:
            raise BackendUnavailable("the llamacpp backend needs ASSISTANT_LLAMACPP_MODEL_PATH (a .gguf file)")
        return LlamaCppChatModel(
            model_path=settings.llamacpp_model_path,
            temperature=temperature,
            max_tokens=settings.llm_max_tokens,
            n_ctx=settings.llamacpp_n_ctx,
        )
    raise BackendUnavailable(f"unknown answer backend '{backend}' (choose from {', '.join(BACKENDS)})")


_llama_lock = threading.Lock()


@lru_cache(maxsize=1)
def _load_llama(model_path: str, n_ctx: int) -> Any:
    """One in-process model per file: loading a GGUF takes seconds and gigabytes."""
    try:
        from llama_cpp import Llama
    except ImportError as e:
        raise BackendUnavailable(
            "the llamacpp backend needs llama-cpp-python, an optional extra: "
            "pip install 'usmca-assistant[llamacpp]' (or serve the model with llama.cpp's "
            "OpenAI-compatible server and use ASSISTANT_ANSWER_BACKEND=openai)"
        ) from e
    return Llama(model_path=model_path, n_ctx=n_ctx, verbose=False)


def _role(message: BaseMessage) -> str:
    return {"system": "system", "human": "user", "ai": "assistant"}.get(message.type, "user")


class LlamaCppChatModel(BaseChatModel):
    """A GGUF chat model run by llama-cpp-python, with token streaming.

    The model's own chat template (read from the GGUF) formats the messages. Calls are serialised:
    one llama.cpp context is not safe to share between threads.
    """

    model_path: str
    temperature: float = 0.0
    max_tokens: int = 512
    n_ctx: int = 4096

    @property
    def _llm_type(self) -> str:
        return "llama-cpp-python"

    def _payload(self, messages: list[BaseMessage], stop: list[str] | None) -> dict[str, Any]:
        return {
            "messages": [{"role": _role(m), "content": m.text} for m in messages],
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stop": stop or [],
        }

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        llama = _load_llama(self.model_path, self.n_ctx)
        with _llama_lock:
            out = llama.create_chat_completion(**self._payload(messages, stop))
        text = out["choices"][0]["message"].get("content") or ""
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        llama = _load_llama(self.model_path, self.n_ctx)
        with _llama_lock:
            for part in llama.create_chat_completion(stream=True, **self._payload(messages, stop)):
                token = part["choices"][0].get("delta", {}).get("content") or ""
                if not token:
                    continue
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=token))
                if run_manager:
                    run_manager.on_llm_new_token(token, chunk=chunk)
                yield chunk
