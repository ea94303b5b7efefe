"""The README's LangChain chain, run exactly as printed, on the toy index with a fake chat model.

The snippet is read from README.md ("Use from LangChain"), so the README cannot drift from what
works. `assistant` and `llm` are the two names the README says the reader supplies.
"""

from __future__ import annotations

import re
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from assistant.retrieve.langchain import HybridLangChainRetriever
from tests.conftest import ROOT

REPLY = "The passages say so [Toy Dairy Access Act]."


class _Prompts(BaseCallbackHandler):
    def __init__(self) -> None:
        self.messages: list[Any] = []

    def on_chat_model_start(self, serialized, messages, **kwargs):  # noqa: D102
        self.messages.extend(messages)


def readme_chain() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Use from LangChain\n", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    return code


def test_the_readme_snippet_is_a_five_line_chain():
    code = readme_chain()
    body = [line for line in code.splitlines() if line and not line.startswith(("from ", "import "))]
    assert len(body) == 5, body
    (chain,) = [line for line in body if line.startswith("chain = ")]
    assert "retriever | format_docs" in chain and "| prompt | llm | StrOutputParser()" in chain


def test_the_readme_chain_runs_on_the_toy_index(fast_assistant, capsys):
    prompts = _Prompts()
    llm = FakeListChatModel(responses=[REPLY], callbacks=[prompts])
    exec(compile(readme_chain(), "README.md", "exec"), {"assistant": fast_assistant, "llm": llm})
    assert capsys.readouterr().out.strip() == REPLY, "the chain's output is the model's text"
    (messages,) = prompts.messages
    prompt = messages[-1].content
    question = re.search(r'chain\.invoke\("([^"]+)"\)', readme_chain()).group(1)
    assert prompt.endswith(f"Question: {question}")
    docs = HybridLangChainRetriever(retriever=fast_assistant.retriever, k=4).invoke(question)
    assert len(docs) == 4
    for d in docs:  # the four retrieved passages reach the model, each under its label
        assert f"[{d.metadata['label'] or d.metadata['title']}] {d.page_content}" in prompt
    assert prompt.index(docs[0].page_content) < prompt.index(docs[-1].page_content), "best first"
