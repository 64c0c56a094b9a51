"""The player in a real browser (Debian's chromium through Python playwright): live canvases move, switching
stems keeps the playback position, a rating clicked in the page lands in the database. Screenshots are saved
to the test's tmp folder and, when $ARTIFACTS_DIR is set, copied there."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--autoplay-policy=no-user-gesture-required", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

if not os.path.exists(CHROMIUM):
    pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium); not present",
                allow_module_level=True)
playwright_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
pytest.importorskip("uvicorn")

from audio_alchemy.library import Library  # noqa: E402
from audio_alchemy.web.sample import make_sample_library  # noqa: E402
from audio_alchemy.web.server import free_port, make_config  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """uvicorn on 127.0.0.1 (a free port) in a thread, serving a 3-song sample library with true stems."""
    db = make_sample_library(tmp_path_factory.mktemp("browserlib"), seconds=8.0, n_songs=3)
    yield from _serve(db)


@pytest.fixture(scope="module")
def big_server(tmp_path_factory):
    """A library of 1,203 songs without audio files (the list only needs their rows)."""
    db = tmp_path_factory.mktemp("biglib") / "lib.sqlite"
    with Library.open(db) as lib, lib.transaction():
        for k in range(1203):
            lib.add_track(f"hash{k:05d}", artist=f"Artist {k % 40}", title=f"Song {k:05d}")
    yield from _serve(db)


def _serve(db):
    import uvicorn

    port = free_port()
    srv = uvicorn.Server(make_config(db, "127.0.0.1", port))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    t0 = time.monotonic()
    while not srv.started:
        if time.monotonic() - t0 > 20 or not th.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", db
    srv.should_exit = True
    th.join(10)


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    # bypass_csp only so playwright can evaluate its own helper strings; the app itself runs under its CSP
    ctx = browser.new_context(viewport={"width": 1280, "height": 1300}, bypass_csp=True)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors
    yield pg
    ctx.close()


def shot(page, tmp_path: Path, name: str) -> Path:
    out = tmp_path / f"{name}.png"
    page.screenshot(path=str(out), full_page=True)
    if os.environ.get("ARTIFACTS_DIR"):
        dest = Path(os.environ["ARTIFACTS_DIR"]) / "web"
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(out, dest / out.name)
    return out


def open_and_play(page, base: str, track: int = 1) -> None:
    page.goto(f"{base}/#/track/{track}")
    page.wait_for_selector(f"body[data-track='{track}']", timeout=15000)
    page.evaluate("window.alchemy.play()")
    page.wait_for_function("window.alchemy.position() > 0.5", timeout=15000)


CANVAS_STATS = """(id) => {
  const c = document.getElementById(id), g = c.getContext('2d');
  const d = g.getImageData(0, 0, c.width, c.height).data;
  let h = 0, wav = 0, mp3 = 0, colours = new Set();
  for (let i = 0; i < d.length; i += 4) {
    h = (h * 31 + d[i] * 7 + d[i + 1] * 13 + d[i + 2]) >>> 0;
    const r = d[i], g2 = d[i + 1], b = d[i + 2];
    if (Math.abs(r - 0x4c) < 40 && Math.abs(g2 - 0xc9) < 40 && Math.abs(b - 0xf0) < 40) wav++;
    if (Math.abs(r - 0xfc) < 40 && Math.abs(g2 - 0xa3) < 40 && Math.abs(b - 0x11) < 40) mp3++;
    if (i % 16 === 0) colours.add((r << 16) | (g2 << 8) | b);
  }
  return {hash: h, wav, mp3, colours: colours.size};
}"""


def test_live_canvases_change_and_are_not_blank(page, server, tmp_path):
    base, _ = server
    open_and_play(page, base)
    page.wait_for_timeout(700)
    a_spec, a_sg = page.evaluate(CANVAS_STATS, "spectrum"), page.evaluate(CANVAS_STATS, "spectrogram")
    page.wait_for_timeout(400)
    b_spec, b_sg = page.evaluate(CANVAS_STATS, "spectrum"), page.evaluate(CANVAS_STATS, "spectrogram")
    shot(page, tmp_path, "player-playing")
    assert a_spec["hash"] != b_spec["hash"], "spectrum canvas did not change between two frames"
    assert a_sg["hash"] != b_sg["hash"], "spectrogram canvas did not change between two frames"
    # both curves drawn (the legend alone is ~40 px of each colour; a curve across the plot is far more)
    assert b_spec["wav"] > 400 and b_spec["mp3"] > 400, b_spec
    assert b_sg["colours"] > 20, b_sg  # a heat map, not a flat fill
    frames = page.evaluate("window.alchemy.draw.frames")
    assert frames > 10
    drift = page.evaluate("Math.abs(alchemy.engine.els.wav.currentTime - alchemy.engine.els.mp3.currentTime)")
    assert drift < 0.15, f"WAV and MP3 out of sync by {drift:.3f} s"
    assert not page.errors, page.errors


NOW = "({p: window.alchemy.position(), t: performance.now() / 1000})"


def assert_kept(before: dict, after: dict, what: str) -> None:
    """The position after a switch is where it was, plus at most the wall time that passed (no reset, no jump)."""
    elapsed = after["t"] - before["t"]
    assert before["p"] - 0.1 <= after["p"] <= before["p"] + elapsed + 0.15, f"{what}: {before} -> {after}"
    assert after["p"] > 1.0, f"{what}: position was reset ({after})"


def test_switching_source_and_format_keeps_position(page, server, tmp_path):
    base, db = server
    open_and_play(page, base)
    page.wait_for_function("window.alchemy.position() > 1.5", timeout=15000)
    before = page.evaluate(NOW)
    page.click("#sources button[data-source='vocals']")
    page.wait_for_function("window.alchemy.state.source === 'vocals' && !alchemy.engine.els.wav.paused "
                           "&& alchemy.engine.els.wav.readyState >= 2", timeout=15000)
    after = page.evaluate(NOW)
    with Library.open(db) as lib:
        vocals_id = lib.stems(1)[1].id
    assert page.evaluate("alchemy.engine.els.wav.src").endswith(f"/api/tracks/{vocals_id}/audio/wav")
    assert page.evaluate("alchemy.engine.els.mp3.src").endswith(f"/api/tracks/{vocals_id}/audio/mp3")
    assert_kept(before, after, "mix -> vocals")

    before = page.evaluate(NOW)
    page.click("#formats button[data-format='mp3']")
    after = page.evaluate(NOW)
    assert page.evaluate("alchemy.state.format") == "mp3"
    assert_kept(before, after, "WAV -> MP3")
    page.wait_for_timeout(300)
    assert page.evaluate("alchemy.engine.gain.mp3.gain.value") > 0.9 > page.evaluate("alchemy.engine.gain.wav.gain.value")
    assert page.evaluate("!alchemy.engine.els.mp3.paused")

    before = page.evaluate(NOW)
    page.click("#sources button[data-source='accompaniment']")
    page.wait_for_function("window.alchemy.state.source === 'accompaniment' && !alchemy.engine.els.mp3.paused "
                           "&& alchemy.engine.els.mp3.readyState >= 2", timeout=15000)
    assert_kept(before, page.evaluate(NOW), "vocals -> accompaniment (MP3)")
    shot(page, tmp_path, "player-accompaniment-mp3")
    assert not page.errors, page.errors


def test_rating_saved_in_page_is_in_database(page, server, tmp_path):
    base, db = server
    page.goto(f"{base}/#/track/2")
    page.wait_for_selector("body[data-track='2']", timeout=15000)
    page.fill("#user", "browser-tester")
    page.dispatch_event("#user", "change")
    page.click("#scales button[data-scale='3']")
    page.click("#scores button[data-score='2']")  # "neutral" on the 3-point scale
    page.wait_for_selector("#rating-status[data-saved='2/3']", timeout=10000)
    shot(page, tmp_path, "player-rated")
    with Library.open(db) as lib:
        mine = [r for r in lib.ratings(2) if r["user_id"] == "browser-tester"]
    assert len(mine) == 1 and mine[0]["scale"] == 3 and mine[0]["score"] == 2 and mine[0]["normalized"] == 0.5
    assert not page.errors, page.errors


def test_quick_second_switch_keeps_the_position(page, server):
    """Accompaniment, then vocals while the first stem still loads: the stale load used to restart the vocals at
    0 and fire an uncaught play() rejection."""
    base, _ = server
    open_and_play(page, base, track=3)
    page.wait_for_function("window.alchemy.position() > 1.5", timeout=15000)
    before = page.evaluate(NOW)
    page.evaluate("alchemy.setSource('accompaniment'); alchemy.setSource('vocals')")  # the second while the first loads
    page.wait_for_function("window.alchemy.state.source === 'vocals' && !alchemy.engine.els.wav.paused "
                           "&& alchemy.engine.els.wav.readyState >= 2", timeout=20000)
    page.wait_for_timeout(1500)  # time for a stale load to seek and play, as it used to
    after = page.evaluate(NOW)
    assert_kept(before, after, "mix -> accompaniment -> vocals (quick)")
    lag = before["p"] + (after["t"] - before["t"]) - after["p"]  # only the loading pause, not a restart at 0
    assert lag < 1.0, f"the vocals restarted: {before} -> {after}"
    assert not page.evaluate("alchemy.engine.els.wav.paused")
    assert not page.errors, page.errors


def test_track_list_works_from_the_keyboard(page, server):
    base, _ = server
    page.goto(base + "/")
    page.wait_for_selector("body[data-ready='1']")
    second = page.get_attribute("#tracks li:nth-child(2)", "data-id")
    page.focus("#tracks li:nth-child(2) a.row")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"body[data-track='{second}']", timeout=15000)
    assert not page.errors, page.errors


def test_every_song_of_a_big_library_is_reachable(browser, big_server):
    base, _ = big_server
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = ctx.new_page()
    page.goto(base + "/")
    page.wait_for_selector("body[data-ready='1']")
    rows = lambda: page.eval_on_selector_all("#tracks li", "els => els.length")  # noqa: E731
    assert rows() == 500 and "500 shown" in page.inner_text("#count")
    page.click("#more")
    page.wait_for_function("document.querySelectorAll('#tracks li').length === 1000")
    page.evaluate("document.getElementById('more').click(); document.getElementById('more').click()")  # a double click
    page.wait_for_function("document.querySelectorAll('#tracks li').length >= 1203")
    page.wait_for_timeout(500)
    assert page.is_hidden("#more") and "shown" not in page.inner_text("#count")
    titles = page.eval_on_selector_all("#tracks li .t", "els => els.map(e => e.firstChild.textContent)")
    assert titles == [f"Song {k:05d}" for k in range(1203)]  # sorted by title, no gaps, no repeats
    ctx.close()


def test_search_and_sort_in_page(page, server):
    base, _ = server
    page.goto(base + "/")
    page.wait_for_selector("body[data-ready='1']")
    titles = lambda: page.eval_on_selector_all("#tracks li .t", "els => els.map(e => e.firstChild.textContent)")  # noqa: E731
    assert titles() == ["Blue Partials", "Glass Harmonica", "Minor Drift"]
    page.click("#order")
    page.wait_for_function("document.querySelector('#tracks li .t').firstChild.textContent === 'Minor Drift'")
    page.fill("#search", "sawtooth")
    page.wait_for_function("document.querySelectorAll('#tracks li').length === 1")
    assert titles() == ["Blue Partials"]
    digest = hashlib.sha256(page.content().encode()).hexdigest()
    assert digest  # the page rendered without script errors
    assert not page.errors, page.errors
