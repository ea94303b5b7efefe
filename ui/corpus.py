"""The corpus page: what is indexed, adding uploaded files, removing documents.

Uploads are checked (name, size, extension and content), saved into `settings.user_docs_dir` and
indexed incrementally: only the new files are parsed and embedded, with the indexer's progress
shown as a bar. Each file gets its own result, so one corrupt PDF never stops the others. A file
the indexer refuses is removed again (or its previous version restored) so that a later full
re-index does not trip over it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from assistant.domain import content_hash
from assistant.index.indexer import IndexBusy, Indexer
from assistant.index.store import Snapshot
from assistant.settings import Settings
from ui.citation_cards import kind_label
from ui.resources import load_settings, snapshot
from ui.safety import md_escape, safe_url
from ui.uploads import (
    SavedUpload,
    UploadRejected,
    check_upload,
    discard_backup,
    duplicate_of,
    is_inside,
    restore,
    save_upload,
)

UPLOAD_TYPES = ["pdf", "md", "markdown", "txt", "html", "htm"]
LOCK_TIMEOUT_S = 60.0
MESSAGES = "corpus_messages"


class StreamlitProgress:
    """The indexer's progress protocol (`stage(name, total)`, `advance(n)`) on an `st.progress` bar."""

    def __init__(self, bar: st.delta_generator.DeltaGenerator):
        self.bar = bar
        self.name, self.total, self.done = "", 1, 0

    def stage(self, name: str, total: int) -> None:
        self.name, self.total, self.done = name, max(int(total), 1), 0
        self._draw()

    def advance(self, n: int = 1) -> None:
        self.done = min(self.total, self.done + n)
        self._draw()

    def _draw(self) -> None:
        self.bar.progress(self.done / self.total, text=f"{self.name}: {self.done} of {self.total}")


@dataclass(frozen=True)
class FileResult:
    name: str
    ok: bool
    message: str


def _say(level: str, text: str) -> None:
    st.session_state.setdefault(MESSAGES, []).append((level, text))


def _show_messages() -> None:
    for level, text in st.session_state.pop(MESSAGES, []):
        getattr(st, level)(text)


def index_uploads(files: list[tuple[str, bytes]], settings: Settings, snap: Snapshot,
                  progress: StreamlitProgress) -> list[FileResult]:
    """Check, save and index uploaded files; one result per file, in upload order."""
    results: dict[int, FileResult] = {}
    saved: dict[int, SavedUpload] = {}
    names: set[str] = set()
    digests: dict[str, str] = {}
    for i, (name, data) in enumerate(files):
        try:
            safe = check_upload(name, data, settings.max_file_mb)
            dup = duplicate_of(data, snap.documents)
            if dup is not None:
                title = snap.documents[dup].get("title") or dup
                raise UploadRejected(f"'{name}': the same content is already indexed as “{title}”")
            digest = content_hash(data)
            if digest in digests:
                raise UploadRejected(f"'{name}': same content as '{digests[digest]}' in this upload")
            if safe in names:
                raise UploadRejected(f"'{name}': another file in this upload is also named '{safe}'")
            saved[i] = save_upload(name, data, settings.user_docs_dir, settings.max_file_mb)
            names.add(safe)
            digests[digest] = name
        except UploadRejected as e:
            results[i] = FileResult(name, False, str(e))
        except OSError as e:
            results[i] = FileResult(name, False, f"'{name}': could not be saved ({e.strerror or e})")
    if saved:
        failure = ""
        try:
            report = Indexer(settings, progress).run([s.path for s in saved.values()], lock_timeout=LOCK_TIMEOUT_S)
        except IndexBusy as e:
            failure = str(e)
        except Exception as e:  # noqa: BLE001 - report, undo, keep the page alive
            failure = f"indexing failed ({type(e).__name__}: {e})"
        if failure:
            for i, s in saved.items():
                restore(s)
                results[i] = FileResult(s.original_name, False, f"'{s.original_name}': {failure}")
        else:
            errors = {Path(p).resolve(): reason for p, reason in report.errors.items()}
            docs = {Path(d["abs_path"]).resolve(): d for d in _manifest_docs(settings).values()}
            for i, s in saved.items():
                key = s.path.resolve()
                if key in docs and key not in errors:
                    discard_backup(s)
                    d = docs[key]
                    n = int(d.get("chunks", 0))
                    verb = "replaced the earlier version" if s.replaced else "indexed"
                    results[i] = FileResult(
                        s.original_name, True,
                        f"'{s.path.name}' {verb}: {n} passage{'s' if n != 1 else ''} (document id {d['id']})",
                    )
                else:
                    restore(s)
                    reason = errors.get(key, "not indexed (no passages found)")
                    results[i] = FileResult(s.original_name, False, f"'{s.original_name}': {reason}")
    return [results[i] for i in range(len(files))]


def _manifest_docs(settings: Settings) -> dict[str, dict]:
    from assistant.index.store import read_manifest

    return read_manifest(settings.index_dir).get("documents", {})


def remove_documents(doc_ids: list[str], settings: Settings, snap: Snapshot) -> list[str]:
    """Drop the documents' chunks from the index; delete uploaded files (never corpus files)."""
    notes = []
    report = Indexer(settings).remove(doc_ids, lock_timeout=LOCK_TIMEOUT_S)
    for doc_id in report.removed:
        d = snap.documents.get(doc_id, {})
        path = Path(d.get("abs_path", ""))
        if d and is_inside(path, settings.user_docs_dir) and path.is_file():
            path.unlink()
            notes.append(f"Removed “{d.get('title') or doc_id}” and deleted the uploaded file.")
        else:
            notes.append(
                f"Removed “{d.get('title') or doc_id}” from the index. Its file stays in the corpus folder, "
                "so a full re-index (`usmca-assistant index`) adds it back."
            )
    return notes


def _documents_table(snap: Snapshot) -> None:
    rows = [
        {
            "title": d.get("title") or doc_id,
            "kind": kind_label(d.get("kind", "")),
            "passages": d.get("chunks", 0),
            "indexed": (d.get("indexed_at") or "").replace("T", " ")[:16],
            "cited by footnotes": ", ".join(str(n) for n in d.get("footnotes", [])),
            "document id": doc_id,
        }
        for doc_id, d in sorted(snap.documents.items(), key=lambda kv: (kv[1].get("kind", ""), kv[0]))
    ]
    st.dataframe(
        rows, hide_index=True, width="stretch",
        column_config={
            "title": st.column_config.TextColumn("title", width="large"),
            "document id": st.column_config.TextColumn("document id", width="medium"),
        },
    )
    sources = sorted(snap.sources.values(), key=lambda s: s.footnote)
    if sources:
        with st.expander(f"The brief's {len(sources)} footnote sources"):
            st.dataframe(
                [
                    {
                        "footnote": s.footnote,
                        "source": s.title or s.text[:120],
                        "publisher": s.publisher,
                        "status": f"indexed ({s.document_id})" if s.document_id else "reference only",
                        "link": safe_url(s.url) or "",
                    }
                    for s in sources
                ],
                hide_index=True,
                width="stretch",
                column_config={"link": st.column_config.LinkColumn("link")},
            )


def _upload_section(settings: Settings, snap: Snapshot) -> None:
    st.subheader("Add documents")
    if not any(is_inside(settings.user_docs_dir, d) for d in settings.corpus_dirs):
        st.warning(
            "The upload folder is outside the corpus folders: a full re-index would drop uploaded documents. "
            "Set ASSISTANT_USER_DOCS_DIR inside one of ASSISTANT_CORPUS_DIRS."
        )
    gen = st.session_state.setdefault("upload_generation", 0)
    files = st.file_uploader(
        f"PDF, Markdown, text or HTML files, up to {settings.max_file_mb:g} MB each",
        type=UPLOAD_TYPES, accept_multiple_files=True, key=f"uploads-{gen}",
        max_upload_size=max(1, math.ceil(settings.max_file_mb)),
    )
    if st.button("Add to index", type="primary", disabled=not files, icon=":material/upload_file:"):
        bar = st.progress(0.0, text="Checking files")
        results = index_uploads([(f.name, f.getvalue()) for f in files], settings, snap, StreamlitProgress(bar))
        bar.empty()
        for r in results:
            _say("success" if r.ok else "error", md_escape(r.message))
        st.session_state["upload_generation"] = gen + 1  # clears the uploader
        st.rerun()


def _remove_section(settings: Settings, snap: Snapshot) -> None:
    st.subheader("Remove documents")
    if not snap.documents:
        st.caption("Nothing is indexed.")
        return
    ids = sorted(snap.documents, key=lambda i: (snap.documents[i].get("kind", ""), i))
    chosen = st.multiselect(
        "Documents to remove from the index", ids,
        format_func=lambda i: f"{snap.documents[i].get('title') or i} ({kind_label(snap.documents[i].get('kind', ''))})",
        key="remove_docs",
    )
    confirm = st.checkbox("Yes, remove their passages from the index", key="remove_confirm", disabled=not chosen)
    if st.button("Remove", disabled=not (chosen and confirm), icon=":material/delete:"):
        try:
            with st.spinner("Removing…"):
                for note in remove_documents(chosen, settings, snap):
                    _say("success", md_escape(note))
        except IndexBusy as e:
            _say("error", md_escape(str(e)))
        for k in ("remove_docs", "remove_confirm"):
            st.session_state.pop(k, None)
        st.rerun()


def render() -> None:
    settings = load_settings()
    st.title("Corpus")
    _show_messages()
    snap = snapshot(settings)
    n_chunks = sum(int(d.get("chunks", 0)) for d in snap.documents.values())
    st.caption(f"{len(snap.documents)} documents, {n_chunks} passages indexed in {md_escape(settings.index_dir)}.")
    _documents_table(snap)
    left, right = st.columns(2)
    with left:
        _upload_section(settings, snap)
    with right:
        _remove_section(settings, snap)
