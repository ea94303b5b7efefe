"""Entry point of the Streamlit app: `streamlit run ui/app.py`.

Streamlit runs this file as a script and puts only its folder (`ui/`) on `sys.path`; the `ui` and
`assistant` packages are importable because the project is installed (`pip install -e .`, which
lists both packages), so no module of `ui/` may share a name with a top-level package it needs.
Each page is a small file in `ui/views/` that calls the page's `render()`.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

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
