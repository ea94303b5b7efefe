"""The Streamlit app (`streamlit run ui/app.py`): chat, recommendations, corpus, evaluation."""
