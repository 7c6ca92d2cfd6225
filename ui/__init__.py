"""Widgets and session glue shared by the pages (Streamlit lives here and in pages/)."""
