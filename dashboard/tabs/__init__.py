"""The dashboard's tabs, one module each, whose ``show(log, t)`` draws the tab for a run's log at simulated second t.

A tab module holds what Streamlit draws and the chart specs only it uses; what
it shows is computed by the modules beside ``tabs/`` (no Streamlit there).
Text from the run goes into Markdown only through ``plain.md`` (``app`` says why).
"""
