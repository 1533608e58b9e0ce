"""The Streamlit dashboard: watch runs live and replay logged runs, from the event store alone.

Everything shown is a function of (events, simulated time t): the town at t is
rebuilt from the events logged up to t, so live runs, finished runs and replays
are the same code path. ``app`` is the shell (store, run, time, the tab list)
and each tab is a module of ``tabs``. ``stores`` opens a run and ``runlog``
holds its log (read a kind at a time, grown by a live run's new events);
``town``, ``minds``, ``interactions``, ``spread``, ``calls`` and ``charts``
compute what the tabs show, without Streamlit. What a chart draws is cut to
what a chart takes (``charts.MAX_BARS``): a day of 1,000 residents renders in
about 2 s and a live one refreshes within a second (bench/dashboard.py).
"""
