"""The Streamlit dashboard: watch runs live and replay logged runs, from the event store alone."""
