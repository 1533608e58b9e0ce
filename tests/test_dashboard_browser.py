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
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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

from .conftest import ROOT, TINY, WORLDS  # noqa: E402
from .servers import HOST, free_port  # noqa: E402
from .test_dashboard import ANN, BOB, hostile, hostile_store  # noqa: E402
from .test_dashboard_serving import OUTSIDE_TOWN, OUTSIDERS, SECRET, make_store  # noqa: E402

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


def start_dashboard(spawn: Callable[..., subprocess.Popen], *db: Path | str) -> tuple[str, subprocess.Popen]:
    """Start ``agentville dashboard`` on ``db`` (or other arguments: ``--runs-dir DIR``); return its URL and
    process once the health check says ok."""
    port = free_port()
    proc = spawn([sys.executable, "-m", "agentville.sim.cli", "dashboard", *map(str, db),
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

def chrome(**logs: str) -> Iterator[webdriver.Chrome]:
    """Headless Chromium; ``logs`` adds logs to keep (performance="ALL": every network request)."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--window-size=1400,1000"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "SEVERE", **logs})  # JS errors, for failure messages
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(STARTUP_S)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    yield from chrome()


@pytest.fixture
def watched_browser() -> Iterator[webdriver.Chrome]:
    """A browser that logs every request it sends (read them with ``requests_sent``)."""
    yield from chrome(performance="ALL")


def requests_sent(driver: webdriver.Chrome) -> list[str]:
    """The URLs of the requests the page sent since the last call (from the performance log)."""
    messages = (json.loads(entry["message"])["message"] for entry in driver.get_log("performance"))
    return [m["params"]["request"]["url"] for m in messages if m["method"] == "Network.requestWillBeSent"]


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
    # Streamlit's own "Deploy" button is not offered: this is a local viewer, not an app to publish
    assert not [b for b in browser.find_elements(By.TAG_NAME, "button") if b.text.strip() == "Deploy"]
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

    from agentville.sim.runtime.runner import assemble
    from agentville.sim.generation import FakeBackend
    from agentville.sim.scenario import load_scenario
    from agentville.sim.store.eventstore import EventStore

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
    from agentville.sim.store.eventstore import EventStore

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
    assert "Latest lines" in page_text(browser)  # the feed of what is said, beside the followed map


# ----- text from the run is text: no markup, no outside requests -----

class _Recorder(BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.paths.append(self.path)  # type: ignore[attr-defined]
        self.send_error(404)

    def log_message(self, *args):
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[str]]]:
    """An "outside" web server on 127.0.0.1: its URL, and the paths of every request it received."""
    server = ThreadingHTTPServer((HOST, 0), _Recorder)
    server.paths = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_port}", server.paths  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# Elements that markup in the run's text would make: links and images to it, emphasis, strikethrough and
# code, LaTeX, :colour[...] text, :streamlit: and :material/...: icons (none of the dashboard's own text makes them).
MARKUP = """
    const made = [
        ...document.querySelectorAll('[src*="hostile"], [href*="hostile"]:not([href^="#"])'),  // a heading's anchor is ours
        ...Array.from(document.querySelectorAll('b, strong')).filter(e => /bold|html/.test(e.textContent)),
        ...document.querySelectorAll('em, i, del, s, .katex, .stMarkdownColoredText, [data-testid="stMarkdownContainer"] code'),
        ...document.querySelectorAll('[data-testid="stMarkdownContainer"] img, [data-testid="stMarkdownContainer"] [role="img"]'),
    ];
    return made.filter(e => !e.closest('.vega-embed')).map(e => e.outerHTML.slice(0, 300));
"""


def choose_agent(driver: webdriver.Chrome, name: str) -> None:
    """Pick ``name`` in the inspector's Agent selectbox (opened with its button; the page's header covers it)."""
    box = driver.find_element(By.XPATH, "//*[@data-testid='stSelectbox'][.//input[@aria-label='Agent']]")
    driver.execute_script("arguments[0].click()", box.find_element(By.CSS_SELECTOR, "button[aria-label='Open']"))
    option = WebDriverWait(driver, 10).until(
        lambda d: next((o for o in d.find_elements(By.CSS_SELECTOR, "[role='option']") if o.text == name), None))
    driver.execute_script("arguments[0].click()", option)


def shows(text: str) -> Callable[[webdriver.Chrome], bool]:
    return lambda driver: text in page_text(driver)


def draws(selector: str) -> Callable[[webdriver.Chrome], list]:
    return lambda driver: [e for e in driver.find_elements(By.CSS_SELECTOR, selector) if e.is_displayed()]


VIEWS = {"Town map": shows("agents:"), "Agents": shows("Memory stream"), "Conversations": shows("conversations"),
         "Timeline": draws(MAP), "Relationships": draws("svg .node"), "Generation": shows("How early")}


OPEN_EXPANDERS = """
for (const summary of document.querySelectorAll('[data-testid="stExpander"] summary')) {
  const details = summary.closest('details');
  if (summary.offsetParent !== null && !(details && details.open)) summary.click();
}"""


def show_every_view(driver: webdriver.Chrome, tmp_path: Path, dashboard: subprocess.Popen) -> tuple[str, list[str]]:
    """Visit every tab, open every expander, see Ann's inspector then Bob's: the text shown on the way, and the
    markup (``MARKUP``) found in the page at each step."""
    seen: list[str] = []
    made: list[str] = []

    def look(name: str) -> None:
        # In one script: a page still re-rendering (after choosing a resident) replaces its expanders, so
        # element handles held across calls go stale; closed and visible ones are opened, open ones stay open.
        driver.execute_script(OPEN_EXPANDERS)
        time.sleep(1)  # the expanders open, the charts draw
        seen.append(page_text(driver))
        made.extend(driver.execute_script(MARKUP))
        driver.save_screenshot(str(tmp_path / f"hostile-{name}.png"))

    for tab, drawn in VIEWS.items():
        button = driver.find_element(By.XPATH, f"//*[@role='tab'][contains(normalize-space(.), '{tab}')]")
        driver.execute_script("arguments[0].click()", button)
        wait_for(driver, drawn, 15, f"the {tab} tab", tmp_path, dashboard)
        look(tab.lower().replace(" ", "-"))
        if tab == "Agents":  # the other resident
            choose_agent(driver, BOB)
            wait_for(driver, lambda d: [h for h in d.find_elements(By.TAG_NAME, "h3") if h.text.split()[1:2] == ["Bob"]],
                     15, "Bob's inspector", tmp_path, dashboard)
            look("agents-bob")
    return "\n".join(seen).replace("\u2060", ""), made  # the dashboard's invisible breaks of patterns Streamlit rewrites


def test_hostile_text_is_shown_as_text_and_fetches_nothing(tmp_path, spawn, watched_browser, recorder):
    outside, received = recorder
    url, dashboard = start_dashboard(spawn, hostile_store(tmp_path, outside))
    browser = watched_browser
    browser.get(url)
    wait_for(browser, simulated_time, STARTUP_S, "the page", tmp_path, dashboard)
    seen, made = show_every_view(browser, tmp_path, dashboard)
    sent = [u for u in requests_sent(browser) if "hostile" in u or u.startswith(outside)]

    assert not received and not sent, f"the page fetched what the run's text names: {received} {sent}"
    assert not made, "markup made of the run's text:\n" + "\n".join(made)
    literal = [f"2 agents: {ANN}, {BOB}",  # the map's caption
               f"thought: {hostile('whisper', outside)}",  # a revision of Ann's plan, for the whisper
               f"{BOB}: {hostile('said', outside).split(' **')[0]}",  # a line, in the conversation
               hostile("summary", outside).split(" **")[0],  # its summary (lines and summaries are cut at 300 characters)
               "Town <b>x</b> [l]", "thought: ![w]("]  # the title; Bob's revision, for the scenario's whisper
    missing = [text for text in literal if text not in seen]
    assert not missing, f"not shown as it is: {missing}"
    graph = [label.get_attribute("textContent") for label in browser.find_elements(By.CSS_SELECTOR, "svg .node text")]
    assert sorted(graph) == [ANN, BOB]  # Graphviz reads no entity (&lt;) in a name either


# ----- the page serves the store it was started on, or one of its runs folder by name (issue 26) -----

def test_the_url_cannot_open_a_store_the_server_was_not_started_on(tmp_path, spawn, browser):
    from urllib.parse import quote

    runs, outside = tmp_path / "runs", tmp_path / "outside"
    runs.mkdir(), outside.mkdir()
    tiny, secret = make_store(runs / "tiny.db", TINY), make_store(outside / "secret.db", SECRET)

    def refused(url: str, dashboard: subprocess.Popen, line: str) -> None:
        browser.get(url)
        wait_for(browser, shows(line), STARTUP_S, f"the line {line!r}", tmp_path, dashboard)
        time.sleep(1)  # the script has stopped at the line: nothing more comes
        text = shown_text(browser)
        assert OUTSIDE_TOWN not in text and not any(name in text for name in OUTSIDERS), text
        assert "Traceback" not in text and ".py" not in text and str(tmp_path) not in text, text
        assert len(browser.find_elements(By.CSS_SELECTOR, "[data-testid='stAlert']")) == 1, text

    url, dashboard = start_dashboard(spawn, tiny)
    for asked in (quote(str(secret), safe=""), str(secret), "../outside/secret.db", "secret.db&db=tiny.db"):
        refused(f"{url}/?db={asked}", dashboard, "This dashboard serves tiny.db only: open it without ?db=")
    url, dashboard = start_dashboard(spawn, "--runs-dir", runs)  # the stores of a folder, by name
    for asked in (quote(str(secret), safe=""), "..%2Foutside%2Fsecret.db", "%2E%2E/outside/secret.db",
                  "..%252Foutside%252Fsecret.db", "tiny.db%00", "x" * 2000, ""):
        refused(f"{url}/?db={asked}", dashboard, "?db= names no store of this dashboard")
    browser.get(f"{url}/?db=tiny")
    wait_for(browser, simulated_time, STARTUP_S, "the page of tiny.db", tmp_path, dashboard)
    assert "Tiny town" in page_text(browser)


# ----- every tab at 25 agents, as a screenshot (issue 16) -----

SMALLVILLE = WORLDS / "smallville.yaml"
# 11 h 45 min into the fake run three conversations are going on (two at the market): the map has something to show
SMALLVILLE_UNTIL = "+705m"
SCREENSHOTS_ENV = "AGENTVILLE_SCREENSHOTS"  # a folder to keep the screenshots in (else the test's tmp_path)
TALKER = (0xD9, 0x48, 0x0F)  # the town map's colour for people talking (dashboard.tabs.town_map.TALK)
VIEWS_25 = {"Town map": shows("Latest lines"), "Agents": shows("Memory stream"),
            "Conversations": shows("conversations"), "Timeline": draws(MAP), "Relationships": draws("svg .node"),
            "Diffusion": shows("Type the keywords"), "Generation": shows("How early")}


def open_tab(driver: webdriver.Chrome, tab: str) -> None:
    button = driver.find_element(By.XPATH, f"//*[@role='tab'][contains(normalize-space(.), '{tab}')]")
    driver.execute_script("arguments[0].click()", button)


def picture(path: Path):
    """The screenshot as RGB pixels (PIL comes with Streamlit); it fails here if the file is no PNG."""
    from PIL import Image

    with Image.open(path) as image:
        assert image.format == "PNG"
        return image.convert("RGB")


def test_every_tab_at_25_agents_draws_a_screenshot_worth_looking_at(tmp_path, spawn, browser):
    from agentville.dashboard import interactions, stores

    db = tmp_path / "smallville.db"
    subprocess.run([sys.executable, "-m", "agentville.sim.cli", "run", str(SMALLVILLE), "--llm", "fake",
                    "--until", SMALLVILLE_UNTIL, "--db", str(db), "--no-progress"], cwd=ROOT, check=True,
                   capture_output=True, timeout=180)
    log = stores.load_run(db)
    assert len(log.agents) == 25 and len(interactions.talks_at(log, log.reached)) >= 2
    folder = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    url, dashboard = start_dashboard(spawn, db)
    browser.set_window_size(1400, 1700)  # tall enough for the timeline and its legend
    browser.get(url)
    wait_for(browser, simulated_time, STARTUP_S, "the page", tmp_path, dashboard)
    for tab, drawn in VIEWS_25.items():
        open_tab(browser, tab)
        wait_for(browser, drawn, 20, f"the {tab} tab", tmp_path, dashboard)
        time.sleep(1.5)  # the charts draw (Vega, Graphviz) after their element appears
        shot = folder / f"{tab.lower().replace(' ', '-')}.png"
        assert browser.save_screenshot(str(shot))
        pixels = picture(shot)
        colours = pixels.getcolors(maxcolors=1 << 20) or []
        assert len(colours) > 40, f"{shot} is nearly blank: {len(colours)} colours"
        if tab == "Town map":  # people talking are drawn in the talk colour (with a line between them)
            talkers = sum(n for n, rgb in colours if max(abs(a - b) for a, b in zip(rgb, TALKER)) <= 12)
            assert talkers > 50, f"{shot}: no one drawn talking ({talkers} pixels of the talk colour)"
            newest = interactions.latest_lines(log, log.reached, 1).iloc[0]
            assert f"{newest['speaker']} → {newest['listener']}" in page_text(browser)  # the feed beside the map
