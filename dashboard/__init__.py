"""The Streamlit dashboard (live + replay); it reads only the event store."""
