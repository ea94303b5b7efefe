"""Streamlit chat page (minimal; the full negotiator UI builds on this)."""

from __future__ import annotations

import streamlit as st

from assistant.pipeline import Assistant
from assistant.settings import get_settings

st.set_page_config(page_title="USMCA Review Assistant", layout="wide")


@st.cache_resource(show_spinner="Loading the index and the embedding model…")
def assistant() -> Assistant:
    a = Assistant(get_settings())
    a.retriever  # noqa: B018 - load model and Chroma once per process
    return a


st.title("USMCA Review Assistant")
if "messages" not in st.session_state:
    st.session_state.messages = []

for role, text in st.session_state.messages:
    with st.chat_message(role):
        st.text(text)

if question := st.chat_input("Ask about the brief, the USMCA text or its sources"):
    st.session_state.messages.append(("user", question))
    with st.chat_message("user"):
        st.text(question)
    answer = assistant().ask(question)
    with st.chat_message("assistant"):
        st.text(answer.text)
        for c in answer.citations:
            with st.expander(f"[{c.number}] {c.title} — {c.location}"):
                st.text(c.quote)
                if c.url:
                    st.text(c.url)
    st.session_state.messages.append(("assistant", answer.text))
