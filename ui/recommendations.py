"""The recommendations page: the brief's recommendations, filterable by topic, each expandable to
its one-line summary, rationale, the mechanisms it uses and the passages that support it (citation
cards).

The list comes from `assistant.answer.recommend.load_recommendations(snapshot)` (stored with the
index generation). Each record's line is the chat's and `usmca-assistant recommend`'s
(`render_line`: what … why … mechanism, each piece verbatim), its markers numbered like the
evidence cards below it.
"""

from __future__ import annotations

import hashlib

import streamlit as st

from assistant.answer.citations import build_citation
from assistant.answer.recommend import load_recommendations
from assistant.answer.recommend_line import by_passage, one_line, render_line
from assistant.domain import Citation
from assistant.index.store import Snapshot
from assistant.ingest.recommendations import Recommendation
from ui.citation_cards import render_citation
from ui.resources import load_settings, snapshot
from ui.safety import md_escape

# The brief's themes, in the order a negotiator scans them; topics beyond these follow.
TOPICS = ("autos", "labor", "energy", "services", "security", "China")


def load(snap: Snapshot) -> list[Recommendation]:
    return list(load_recommendations(snap))


def topic_options(recommendations: list[Recommendation]) -> list[str]:
    seen = {t for r in recommendations for t in (r.topics)}
    known = {t.lower(): t for t in TOPICS}
    present = {known.get(t.lower(), t) for t in seen}
    return [t for t in TOPICS if t in present] + sorted(present - set(TOPICS), key=str.lower)


def matches(rec: Recommendation, topics: list[str]) -> bool:
    """No topic chosen shows all; otherwise a recommendation on any chosen topic."""
    if not topics:
        return True
    mine = {t.lower() for t in (rec.topics)}
    return bool(mine & {t.lower() for t in topics})


def _slug(title: str) -> str:
    return hashlib.sha1(title.encode("utf-8")).hexdigest()[:10]


def _label(topic: str) -> str:
    return md_escape(topic if topic[:1].isupper() else topic.capitalize())


ROLE_LABELS = {"recommendation": "States it", "summary": "Executive summary", "argument": "Argument"}


def summary_line(rec: Recommendation, snap: Snapshot) -> str:
    """The record as one cited line, numbered like its evidence cards."""
    return render_line(one_line(rec, snap), by_passage(rec)).removeprefix("- ")


def evidence(rec: Recommendation, snap: Snapshot) -> list[tuple[str, Citation]]:
    """The passages that state and argue a recommendation, as citation cards (role, citation).
    Passages whose chunk left the index are skipped."""
    out = []
    for n, p in enumerate(rec.passages, start=1):
        chunk = snap.chunks.get(p.chunk_id)
        if chunk is not None:
            out.append((p.role, build_citation(n, chunk, [p.quote], snap.sources)))
    return out


def render() -> None:
    settings = load_settings()
    st.title("Recommendations")
    st.caption("What the Quincy brief recommends for the 2026 USMCA joint review, with the passages behind each.")
    snap = snapshot(settings)
    try:
        recs = load(snap)
    except Exception as e:  # noqa: BLE001 - show the problem instead of a stack trace
        st.error(f"The recommendations could not be loaded: {md_escape(f'{type(e).__name__}: {e}')}")
        return
    if not recs:
        st.info("No recommendations found: is the brief indexed? See the Corpus page.")
        return
    options = topic_options(recs)
    chosen = st.pills("Topics", options, selection_mode="multi", format_func=_label, key="rec_topics") or []
    shown = [r for r in recs if matches(r, chosen)]
    st.caption(f"{len(shown)} of {len(recs)} recommendations" + (" on " + md_escape(", ".join(chosen)) if chosen else ""))
    titles = {r.id: r.title for r in recs if r.id}
    for rec in shown:
        topics = ", ".join(rec.topics)
        label = f"**{md_escape(rec.title)}**" + (f" · {md_escape(topics)}" if topics else "")
        with st.expander(label, expanded=len(shown) == 1):
            st.markdown(md_escape(summary_line(rec, snap)))
            facts = []
            sources = list(rec.sources)
            if sources:
                facts.append("Stated in " + md_escape(", ".join(sources)))
            mechanisms = list(rec.mechanisms)
            if mechanisms:
                facts.append("Mechanisms: " + md_escape(", ".join(mechanisms)))
            if facts:
                st.caption(" · ".join(facts))
            if rec.rationale:
                st.markdown("**Rationale**  \n" + md_escape(rec.rationale))
            related = [titles[i] for i in rec.related if i in titles]
            if related:
                st.markdown("**Related recommendations**  \n" + "  \n".join(f"• {md_escape(t)}" for t in related))
            cards = evidence(rec, snap)
            if cards:
                st.markdown("**Evidence**")
            for role, c in cards:
                st.caption(ROLE_LABELS.get(role, md_escape(role)))
                render_citation(c, None, snap, settings.index_dir, key=f"rec-{_slug(rec.title)}-{c.number}", nested=True)
