"""The chat page: ask, read a streamed cited answer, follow up, filter, export, rate.

The conversation lives in `st.session_state` (one per browser session). A question streams through
`Assistant.stream` (or `ask`), with the previous turns as history so a follow-up such as "and for
Canada?" is searched as a complete question. Above each answer, "Understood as: ..." shows that
question, and "Edit" re-asks a corrected one; under it, the answer's details (citations, backend,
warnings), the parts of the question the documents do not cover, and "More detail": the longer
answer, asked once with the same history and kept on the turn.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import streamlit as st

from assistant.domain import Answer
from assistant.index.store import Snapshot
from assistant.settings import Settings
from assistant.textutil import collapse
from ui.chat_state import Turn, history
from ui.citation_cards import kind_label, render_details
from ui.export import conversation_markdown, export_filename
from ui.feedback import append_feedback, feedback_record
from ui.resources import (
    answer_stream,
    available_backends,
    get_assistant,
    load_settings,
    model_ready,
    snapshot,
)
from ui.safety import md_escape

TURNS = "turns"
PENDING = "pending_question"  # a corrected "understood as" question waiting to be asked
NOT_COVERED_MARK = "\n\nNot covered by the indexed documents:"


def _turns() -> list[Turn]:
    return st.session_state.setdefault(TURNS, [])


def _new_conversation() -> None:
    st.session_state[TURNS] = []


def _conversation_actions(slot: st.delta_generator.DeltaGenerator, settings: Settings) -> None:
    """"New conversation" and the Markdown export, drawn last so they include the newest answer."""
    turns = _turns()
    with slot.container():
        if not model_ready(settings):
            st.caption(":material/hourglass_top: Loading the embedding model; the first answer may take a moment.")
        st.button("New conversation", icon=":material/add_comment:", on_click=_new_conversation,
                  width="stretch", disabled=not turns)
        st.download_button(
            "Export conversation (Markdown)", conversation_markdown(turns) if turns else "",
            file_name=export_filename(), mime="text/markdown", icon=":material/download:",
            disabled=not turns, width="stretch", key="export", on_click="ignore",
        )


def _filters(settings: Settings, snap: Snapshot) -> tuple[list[str], list[str], str]:
    """Sidebar: the kinds and documents a question is restricted to, and the answer backend."""
    with st.sidebar:
        st.subheader("Search in")
        present = sorted({d.get("kind", "user") for d in snap.documents.values()})
        kinds = st.multiselect("Document kinds", present, format_func=kind_label, key="filter_kinds",
                               placeholder="All kinds")
        docs = {i: d for i, d in snap.documents.items() if not kinds or d.get("kind") in kinds}
        chosen = [d for d in st.session_state.get("filter_documents", []) if d in docs]
        st.session_state["filter_documents"] = chosen
        documents = st.multiselect(
            "Documents", sorted(docs, key=lambda i: (docs[i].get("kind", ""), docs[i].get("title") or i)),
            format_func=lambda i: docs[i].get("title") or i, key="filter_documents", placeholder="All documents",
        )
        backends = available_backends(settings)
        backend = st.selectbox("Answer backend", backends, index=backends.index(settings.answer_backend)
                               if settings.answer_backend in backends else 0, key="backend",
                               help="Extractive answers quote the passages verbatim and need no model.")
    return kinds, documents, backend


def _feedback(turn: Turn, settings: Settings) -> None:
    if turn.feedback is not None:
        thumb = "👍" if turn.feedback["rating"] == "up" else "👎"
        note = f": {md_escape(turn.feedback['comment'])}" if turn.feedback["comment"] else ""
        st.caption(f"Feedback recorded {thumb}{note}")
        return
    with st.form(key=f"fb-{turn.id}", border=False, enter_to_submit=False):
        rating = st.feedback("thumbs", key=f"fb-rating-{turn.id}")
        comment = st.text_input("Comment (optional)", key=f"fb-comment-{turn.id}",
                                placeholder="What was right or wrong with this answer?")
        sent = st.form_submit_button("Send feedback")
    if sent:
        if rating is None:
            st.warning("Choose 👍 or 👎 before sending.")
            return
        record = feedback_record(turn.question, turn.answer, rating, comment)
        try:
            append_feedback(settings.feedback_file, record)
        except OSError as e:
            st.error(f"Could not save the feedback: {md_escape(e)}")
            return
        turn.feedback = record
        st.rerun()


def _user_message(question: str, kinds: list[str], documents: list[str], snap: Snapshot) -> None:
    with st.chat_message("user"):
        st.markdown(md_escape(question))
        if kinds or documents:
            names = [kind_label(k) for k in kinds] + [snap.documents.get(d, {}).get("title") or d for d in documents]
            st.caption("Searched only in: " + md_escape(", ".join(names)))


def _display_text(answer: Answer) -> str:
    """The answer as shown: the not-covered sentence moves to its own caption under the answer."""
    if answer.not_covered and not answer.abstained:
        return answer.text.partition(NOT_COVERED_MARK)[0].rstrip()
    return answer.text


def _understood(answer: Answer, question: str, key: str) -> None:
    """"Understood as: ..." above a follow-up's answer, and "Edit" to ask a corrected question."""
    understood = answer.standalone_question or question
    if collapse(understood) == collapse(question):
        return
    st.caption(f"Understood as: {md_escape(understood)}")
    with st.expander("Edit what was understood", icon=":material/edit:"):
        st.text_input("Standalone question", value=understood, key=f"edit-{key}", max_chars=2000)
        st.button("Ask this instead", key=f"edit-ask-{key}", on_click=_queue_edit, args=(key,))


def _queue_edit(key: str) -> None:
    text = (st.session_state.get(f"edit-{key}") or "").strip()
    if text:
        st.session_state[PENDING] = text


def _not_covered(answer: Answer) -> None:
    if answer.not_covered and not answer.abstained:
        st.caption("Not covered by the documents: " + md_escape("; ".join(answer.not_covered)))


def _more_detail(turn: Turn, index: int, settings: Settings, snap: Snapshot) -> None:
    """The longer answer for this turn: asked on request with the same history, then kept."""
    if turn.answer.abstained:
        return
    if turn.detail is None:
        if not st.session_state.get(f"want-detail-{turn.id}"):
            st.button("More detail", key=f"more-{turn.id}", icon=":material/unfold_more:",
                      on_click=st.session_state.__setitem__, args=(f"want-detail-{turn.id}", True))
            return
        turns = _turns()
        try:
            with st.spinner("Writing the longer answer…"):
                turn.detail = get_assistant(settings).ask(
                    turn.question, history=None if turn.standalone else history(turns[:index]) or None,
                    backend=turn.backend or None, kinds=set(turn.kinds) or None,
                    documents=set(turn.documents) or None, detail=True,
                )
        except Exception as e:  # noqa: BLE001 - a failed detail must not take the page down
            st.error(f"The longer answer could not be written: {md_escape(f'{type(e).__name__}: {e}')}")
            return
    with st.container(border=True, key=f"detail-{turn.id}"):
        st.markdown("**More detail**")
        st.markdown(md_escape(_display_text(turn.detail)))
        _not_covered(turn.detail)
        render_details(turn.detail, turn.question, snap, settings.index_dir, key=f"{turn.id}-detail")


def _render_turn(turn: Turn, index: int, settings: Settings, snap: Snapshot) -> None:
    _user_message(turn.question, turn.kinds, turn.documents, snap)
    with st.chat_message("assistant"):
        _understood(turn.answer, turn.question, turn.id)
        st.markdown(md_escape(_display_text(turn.answer)))
        _not_covered(turn.answer)
        render_details(turn.answer, turn.question, snap, settings.index_dir, key=turn.id)
        _more_detail(turn, index, settings, snap)
        _feedback(turn, settings)


def _ask(question: str, settings: Settings, kinds: list[str], documents: list[str], backend: str,
         *, standalone: bool = False) -> None:
    """Ask and stream the answer. `standalone`: a corrected "understood as" question, asked as typed
    (without the conversation's history)."""
    turns = _turns()
    _user_message(question, kinds, documents, snapshot(settings))
    with st.chat_message("assistant"):
        holder: list[Answer] = []

        def pieces(stream: Iterator[str | Answer]) -> Iterator[str]:
            for piece in stream:
                if isinstance(piece, Answer):
                    holder.append(piece)
                else:
                    yield md_escape(piece, line_start=False)

        above = st.empty()  # "Understood as", once the answer says how the question was understood
        placeholder = st.empty()
        try:
            stream = answer_stream(
                get_assistant(settings), question, history=[] if standalone else history(turns), backend=backend,
                kinds=set(kinds) or None, documents=set(documents) or None,
            )
            text = pieces(stream)
            with placeholder.container():
                with st.spinner("Searching the documents…"):
                    first = next(text, None)  # retrieval and verification happen before the first words
                streamed = st.write_stream(itertools.chain([] if first is None else [first], text))
        except Exception as e:  # noqa: BLE001 - a failed answer must not take the page down
            placeholder.error(f"The question could not be answered: {md_escape(f'{type(e).__name__}: {e}')}")
            return
        if not holder:
            placeholder.error("The answer stream ended without an answer.")
            return
        answer = holder[0]
        shown = _display_text(answer)
        if not isinstance(streamed, str) or streamed != md_escape(shown, line_start=False):
            placeholder.markdown(md_escape(shown))
        turn = Turn(question, answer, list(kinds), list(documents), backend, standalone=standalone)
        turns.append(turn)
        with above.container():
            _understood(answer, question, turn.id)
        snap = snapshot(settings)
        _not_covered(answer)
        render_details(answer, question, snap, settings.index_dir, key=turn.id)
        _more_detail(turn, len(turns) - 1, settings, snap)
        _feedback(turn, settings)


def render() -> None:
    settings = load_settings()
    st.title("USMCA Review Assistant")
    st.caption(
        "Questions about the Quincy Institute brief on U.S.–Mexico relations, the USMCA text, the U.S. "
        "implementing law and the brief's sources. Every answer sentence cites the passage it quotes; "
        "when the documents do not answer, the assistant says so."
    )
    snap = snapshot(settings)
    actions = st.sidebar.empty()
    kinds, documents, backend = _filters(settings, snap)
    if snap.empty:
        st.warning("The index is empty. Add documents on the Corpus page, or run `usmca-assistant index`.")
    for i, turn in enumerate(_turns()):
        _render_turn(turn, i, settings, snap)
    scope = ", ".join([kind_label(k) for k in kinds] + [snap.documents[d].get("title") or d for d in documents])
    prompt = "Ask about the brief, the USMCA text or its sources" + (f" (only in: {scope})" if scope else "")
    question = st.chat_input(prompt[:200], disabled=snap.empty, key="question", max_chars=2000)
    corrected = st.session_state.pop(PENDING, None)
    if corrected:
        _ask(corrected, settings, kinds, documents, backend, standalone=True)
    elif question and question.strip():
        _ask(question.strip(), settings, kinds, documents, backend)
    _conversation_actions(actions, settings)
