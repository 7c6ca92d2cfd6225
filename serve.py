"""The server entry point: the Streamlit app plus the cookie and image routes."""

import streamlit as st

from ui.web import routes

app = st.App("app.py", routes=routes)
