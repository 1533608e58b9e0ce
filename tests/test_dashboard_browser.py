"""The dashboard in a real browser: ``agentville dashboard`` driven by headless Chromium.

Each test starts the dashboard (``python -m agentville.sim.cli dashboard DB ... --headless``,
which runs ``streamlit run dashboard/app.py``) on a free port, waits for
Streamlit's health check, and reads the page with selenium. Every process a
test starts runs in its own session and its whole group is killed at teardown.

The module skips when ``chromium`` or ``chromedriver`` is not on PATH
(``.ci/run`` installs the Debian packages ``chromium`` and ``chromium-driver``).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
if CHROMIUM is None or CHROMEDRIVER is None:
    pytest.skip("the browser tests need `chromium` and `chromedriver` on PATH "
                "(Debian packages chromium, chromium-driver; .ci/run installs them)", allow_module_level=True)

import httpx  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from .conftest import ROOT, WORLDS  # noqa: E402
from .servers import HOST, free_port  # noqa: E402

pytestmark = pytest.mark.slow

SCENARIO = WORLDS / "the_ville_3.yaml"
AGENTS = ("Isabella Rodriguez", "Maria Lopez", "Klaus Mueller")
MAP = ".vega-embed canvas, .vega-embed svg"
SIM_TIME = re.compile(r"Simulated time:\s*(\d{4}-\d{2}-\d{2} \d{2}:\d{2})")
# The innermost element whose text starts with "Simulated time:".
SIM_TIME_XPATH = ("//*[starts-with(normalize-space(.), 'Simulated time:')]"
                  "[not(.//*[starts-with(normalize-space(.), 'Simulated time:')])]")
STARTUP_S = 60  # for the dashboard's health check and for the first render


# ----- processes -----

@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start commands in their own process group, output to a log; kill every group at teardown."""
    started: list[subprocess.Popen] = []

    def start(cmd: list[str], name: str) -> subprocess.Popen:
        log = open(tmp_path / f"{name}.log", "wb")
        env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false", "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        proc.log_path = tmp_path / f"{name}.log"  # type: ignore[attr-defined]
        log.close()  # the child holds its own copy
        started.append(proc)
        return proc

    yield start
    for proc in reversed(started):
        _kill_group(proc)


def _kill_group(proc: subprocess.Popen) -> None:
    for sig, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:  # the group is gone
            break
        try:
            proc.wait(timeout=wait_s)
            # the leader is gone; make sure nothing it forked lingers
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            break
        except subprocess.TimeoutExpired:
            continue
        break
    proc.wait(timeout=5)


def _tail(proc: subprocess.Popen, chars: int = 3000) -> str:
    text = proc.log_path.read_text(errors="replace")  # type: ignore[attr-defined]
    return text[-chars:]


def start_dashboard(spawn: Callable[..., subprocess.Popen], db: Path) -> tuple[str, subprocess.Popen]:
    """Start ``agentville dashboard`` on ``db``; return its URL and process once the health check says ok."""
    port = free_port()
    proc = spawn([sys.executable, "-m", "agentville.sim.cli", "dashboard", str(db),
                  "--address", HOST, "--port", str(port), "--headless"], "dashboard")
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the dashboard exited with {proc.returncode} before answering:\n{_tail(proc)}")
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=2).text.strip() == "ok":
                return url, proc
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    pytest.fail(f"the dashboard's health check did not say ok within {STARTUP_S} s:\n{_tail(proc)}")


# ----- the browser -----

@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--window-size=1400,1000"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "SEVERE"})  # JS errors, for failure messages
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(STARTUP_S)
    try:
        yield driver
    finally:
        driver.quit()


def page_text(driver: webdriver.Chrome) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


# st.dataframe draws its cells on a canvas (glide-data-grid), so they are not in the
# page's visible text; the grid keeps an accessible copy of the cells in the DOM.
VISIBLE_GRIDS_TEXT = """
    return Array.from(document.querySelectorAll('[data-testid="stDataFrame"]'))
        .filter(grid => grid.offsetParent !== null)
        .map(grid => grid.textContent).join('\\n');
"""


def shown_text(driver: webdriver.Chrome) -> str:
    """What the page shows as text: its visible text plus the cells of its visible data grids."""
    return page_text(driver) + "\n" + driver.execute_script(VISIBLE_GRIDS_TEXT)


def simulated_time(driver: webdriver.Chrome) -> dt.datetime | None:
    """The time in the page's "Simulated time: %Y-%m-%d %H:%M" text, or None if not shown (yet)."""
    try:
        texts = [e.text for e in driver.find_elements(By.XPATH, SIM_TIME_XPATH)]
    except StaleElementReferenceException:  # a fragment rerun replaced it; read again next time
        return None
    for text in texts:
        if match := SIM_TIME.search(text):
            return dt.datetime.strptime(match[1], "%Y-%m-%d %H:%M")
    return None


def wait_for(driver: webdriver.Chrome, condition: Callable[[webdriver.Chrome], object], timeout: float,
             what: str, tmp_path: Path, dashboard: subprocess.Popen | None = None):
    """WebDriverWait with a useful failure: what was awaited, the page text, a screenshot."""
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.25,
                             ignored_exceptions=(StaleElementReferenceException,)).until(condition)
    except TimeoutException:
        shot = tmp_path / "failure.png"
        driver.save_screenshot(str(shot))
        try:
            text = shown_text(driver)
        except Exception as exc:  # noqa: BLE001 - only for the message
            text = f"<unreadable: {exc}>"
        log = f"\n--- dashboard log ---\n{_tail(dashboard)}" if dashboard else ""
        pytest.fail(f"waited {timeout} s for {what}; screenshot {shot}\n--- page text ---\n{text[-3000:]}"
                    f"\n--- browser errors ---\n{browser_errors(driver)}{log}")


def browser_errors(driver: webdriver.Chrome) -> str:
    try:
        entries = driver.get_log("browser")
    except Exception as exc:  # noqa: BLE001 - only for a failure message
        return f"<unreadable: {exc}>"
    # Streamlit fetching its metrics config from the internet fails offline; that is noise.
    return "\n".join(e["message"] for e in entries if "data.streamlit.io" not in e["message"]) or "(none)"


# ----- tests -----

def test_dashboard_renders_agents_and_map_in_a_real_browser(tmp_path, spawn, browser):
    db = tmp_path / "run.db"
    subprocess.run([sys.executable, "-m", "agentville.sim.cli", "run", str(SCENARIO), "--llm", "fake", "--until", "+1d",
                    "--db", str(db), "--no-progress"], cwd=ROOT, check=True, capture_output=True, timeout=120)
    url, dashboard = start_dashboard(spawn, db)

    browser.get(url)

    def agents_shown(driver):
        text = shown_text(driver)
        return all(name in text for name in AGENTS)

    wait_for(browser, agents_shown, STARTUP_S, f"the agent names {AGENTS}", tmp_path, dashboard)
    # The map renders once the page is up; a few seconds are plenty.
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, MAP), 15, f"a Vega town map ({MAP!r})",
             tmp_path, dashboard)
    shot = tmp_path / "dashboard.png"
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 0
    # every other tab with a chart draws it too (Vega charts, the Graphviz relationship graph)
    charts = {"Timeline": ".vega-embed canvas, .vega-embed svg", "Relationships": "svg .node",
              "Generation": ".vega-embed canvas, .vega-embed svg"}
    for tab, selector in charts.items():
        browser.find_element(By.XPATH, f"//*[@role='tab'][contains(normalize-space(.), '{tab}')]").click()
        wait_for(browser, lambda d, sel=selector: [e for e in d.find_elements(By.CSS_SELECTOR, sel) if e.is_displayed()],
                 15, f"the {tab} chart ({selector!r})", tmp_path, dashboard)
        browser.save_screenshot(str(tmp_path / f"{tab.lower()}.png"))


SLOW_RUN = textwrap.dedent("""\
    # A fake-LLM run slowed down to a steady pace so that the dashboard can watch it live.
    import datetime, sys, time

    from agentville.sim.runner import assemble
    from agentville.sim.generation import FakeBackend
    from agentville.sim.scenario import load_scenario
    from agentville.sim.store import EventStore

    scenario_path, db = sys.argv[1], sys.argv[2]
    delay, pace, hours = float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])


    class SlowFake(FakeBackend):  # the fake model, answering like a slow one
        def submit(self, request):
            future = super().submit(request)
            time.sleep(delay)
            return future


    class PacedStore(EventStore):  # pauses at each progress mark (15 simulated minutes, events flushed)
        def mark_progress(self, run_id, sim_reached):
            super().mark_progress(run_id, sim_reached)
            time.sleep(pace)


    scenario = load_scenario(scenario_path)
    sim = assemble(scenario, store=PacedStore(db), backend=SlowFake(), scenario_path=scenario_path)
    sim.run(scenario.start + datetime.timedelta(hours=hours))
    """)
# The fake model's calls bunch up (a quarter of a day's at the start, almost none
# while the agents sleep), so slowing the calls alone makes the run crawl, then
# race to its end in a few seconds. The run is also paced: 0.5 s per progress
# mark, i.e. 15 simulated minutes, ~50 s for the day; the test kills it once it
# has seen the time move.
SLOW_DELAY_S, PACE_S, SLOW_HOURS = 0.05, 0.5, 24


def test_live_page_follows_a_running_simulation(tmp_path, spawn, browser):
    from agentville.sim.store import EventStore

    db = tmp_path / "live.db"
    script = tmp_path / "slow_run.py"
    script.write_text(SLOW_RUN)
    run = spawn([sys.executable, str(script), str(SCENARIO), str(db), str(SLOW_DELAY_S), str(PACE_S),
                  str(SLOW_HOURS)], "run")

    # Wait until the run has registered and reached its first progress mark.
    deadline = time.monotonic() + 60
    while True:
        if run.poll() is not None:
            pytest.fail(f"the slow run exited with {run.returncode}:\n{_tail(run)}")
        runs = []
        if db.exists():
            with EventStore(db, read_only=True) as store:
                try:
                    runs = store.runs()
                except Exception:  # noqa: BLE001 - the schema may not be there yet
                    runs = []
        if runs and runs[0]["sim_reached"] > 0:
            assert runs[0]["status"] == "running", runs[0]
            break
        if time.monotonic() > deadline:
            pytest.fail(f"the slow run reached no progress mark in 60 s:\n{_tail(run)}")
        time.sleep(0.2)

    url, dashboard = start_dashboard(spawn, db)
    browser.get(url)
    first = wait_for(browser, simulated_time, STARTUP_S, "a 'Simulated time: YYYY-MM-DD HH:MM' text", tmp_path,
                     dashboard)

    # The live fragment reruns every ~1 s without a reload: the time shown must advance.
    later = wait_for(browser, lambda d: (t := simulated_time(d)) is not None and t > first and t, 40,
                     f"the simulated time to advance past {first:%Y-%m-%d %H:%M}", tmp_path, dashboard)
    assert later > first
