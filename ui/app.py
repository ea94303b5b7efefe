"""Entry point of the Streamlit app: `streamlit run ui/app.py`.

Streamlit runs this file as a script, so the project root is put on `sys.path` first to make the
`ui` and `assistant` packages importable; each page is a small file in `ui/views/` that calls the
page's `render()`.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

VIEWS = Path(__file__).resolve().parent / "views"

st.set_option("client.toolbarMode", "viewer")  # negotiators need no deploy / rerun / clear-cache buttons
st.set_page_config(page_title="USMCA Review Assistant", page_icon=":material/gavel:", layout="wide")
page = st.navigation(
    [
        st.Page(VIEWS / "chat.py", title="Ask", icon=":material/forum:", default=True),
        st.Page(VIEWS / "recommendations.py", title="Recommendations", icon=":material/checklist:"),
        st.Page(VIEWS / "corpus.py", title="Corpus", icon=":material/library_books:"),
        st.Page(VIEWS / "evaluation.py", title="Evaluation", icon=":material/analytics:"),
    ]
)
page.run()
