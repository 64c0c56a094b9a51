"""A screenshot of the player while it plays (headless Debian chromium via playwright), e.g. for the README.

    python -m audio_alchemy.web.screenshot docs/screenshot.png            # sample library made in a temp dir
    python -m audio_alchemy.web.screenshot out.png --db library.sqlite --track 3
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--autoplay-policy=no-user-gesture-required", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]


def take(db: str | Path, out: str | Path, track: int = 1, play_seconds: float = 4.0, width: int = 1280,
         height: int = 1180, max_colors: int = 256) -> Path:
    """Serve ``db`` on a free loopback port, open ``track``, play ``play_seconds``, save a PNG of the viewport.

    The PNG is palette-quantised to ``max_colors`` colours to stay small (README-friendly).
    """
    import uvicorn
    from PIL import Image
    from playwright.sync_api import sync_playwright

    from .server import free_port, make_config

    port = free_port()
    srv = uvicorn.Server(make_config(db, "127.0.0.1", port, log_level="error"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    while not srv.started:
        if not th.is_alive():
            raise RuntimeError("the player did not start")
        time.sleep(0.05)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_context(viewport={"width": width, "height": height}).new_page()
            page.goto(f"http://127.0.0.1:{port}/#/track/{track}")
            page.wait_for_selector(f"body[data-track='{track}']", timeout=20000)
            page.evaluate("window.alchemy.play()")
            page.wait_for_timeout(int(play_seconds * 1000))
            page.screenshot(path=str(out))
            browser.close()
    finally:
        srv.should_exit = True
        th.join(10)
    if max_colors:
        img = Image.open(out).convert("RGB").quantize(colors=max_colors, method=Image.Quantize.MEDIANCUT)
        img.save(out, optimize=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description="Screenshot of the player while it plays.")
    ap.add_argument("out", type=Path)
    ap.add_argument("--db", type=Path, help="library database (default: a sample library made in a temp dir)")
    ap.add_argument("--track", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=8.0, help="how long to play before the shot")
    args = ap.parse_args()
    if args.db:
        print(take(args.db, args.out, args.track, args.seconds))
        return
    from ..library import Library
    from .sample import make_sample_library

    with tempfile.TemporaryDirectory() as tmp:
        db = make_sample_library(tmp, seconds=12.0, n_songs=3)
        with Library.open(db) as lib:  # some feedback so the recommendation panel has something to show
            lib.add_rating(2, "local", 5, 5)
            lib.add_play(3, "local", 12.0)
        print(take(db, args.out, args.track, args.seconds))


if __name__ == "__main__":
    main()
