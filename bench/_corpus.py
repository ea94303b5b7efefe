"""Shared by the bench scripts: an index of the brief plus the whole shared mirror, built once.

The index lives in a folder given on the command line (default: a folder under the system temp
dir) and is reused by later runs; it is rebuilt only when its manifest is missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from assistant.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
BRIEF = ROOT / "corpus" / "brief" / "quincy-brief-80-us-mexico-special-relationship.md"
SHARED = ROOT.parent / "shared"
MIRROR = SHARED / "corpus"
DEV_SET = SHARED / "eval" / "dev.jsonl"
DEFAULT_DIR = Path(tempfile.gettempdir()) / "usmca-bench-full"


def full_corpus_settings(folder: Path = DEFAULT_DIR, mirror: Path = MIRROR, **overrides) -> Settings:
    """Settings for an index of brief + mirror under `folder`, building it on first use."""
    folder = Path(folder)
    corpus = folder / "corpus"
    settings = Settings(
        index_dir=folder / "index",
        corpus_dirs=[corpus],
        registry_file=ROOT / "corpus" / "registry.json",
        user_docs_dir=corpus / "user",
        feedback_file=folder / "feedback.jsonl",
        **overrides,
    )
    if not (settings.index_dir / "documents.json").exists():
        from assistant.index.indexer import Indexer
        from assistant.ingest.fetch import fetch_documents
        from assistant.ingest.registry import load_registry

        (corpus / "brief").mkdir(parents=True, exist_ok=True)
        shutil.copy(BRIEF, corpus / "brief" / BRIEF.name)
        results = fetch_documents(load_registry(settings.registry_file), corpus, mirror=Path(mirror))
        failed = [r for r in results if r.status == "failed"]
        if failed:
            raise SystemExit(f"fetching from the mirror failed: {failed}")
        report = Indexer(settings).run()
        if not report.ok:
            raise SystemExit(f"indexing failed: {report.errors}")
    return settings


def app_env(settings: Settings) -> dict[str, str]:
    """The environment that points a `streamlit run ui/app.py` subprocess at `settings`' index."""
    return {**os.environ, **settings.environment(), "HF_HUB_OFFLINE": "1"}


def stop(proc: subprocess.Popen) -> None:
    """Terminate a subprocess, killing it if it does not exit within 15 s."""
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(15)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
