"""The dashboard in real headless Chromium (Debian's), driven by Playwright: it renders the
resources (a Stream names its Camera, URLs wrap after their slashes, times read "… ago" with
the exact time on hover), a file edit and an unplugged camera show up without a reload, a
Recording's real segments can be browsed (the list scrolls into view), and in `camctl demo
--view` their playback links play. Screenshots are kept in artifacts/.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from test_first_hour import demo, free_port, wait_ready
from test_view import TOKEN, View, serving
from test_view_recordings import FRONT, recorded_world

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def browser_without_umockdev(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite runs under umockdev-wrapper; its preload has no business in Chromium, whose
    own udev and netlink use it would only intercept (full runs stalled navigations)."""
    monkeypatch.delenv("LD_PRELOAD", raising=False)


ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = "/usr/bin/chromium"
# The flags that keep Chromium from reaching for the network, which this machine closes.
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]


async def dashboard(browser: Any, view: View, errors: list[str], height: int = 900) -> Any:
    """A desktop-sized page of the dashboard, given the token in its address; the page's
    uncaught errors are appended to `errors`."""
    page = await browser.new_page(viewport={"width": 1280, "height": height})
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(f"{view.url}/#token={TOKEN}", wait_until="domcontentloaded")
    return page


# Where the text of an element breaks into lines: (last character, first character) of each.
LINE_BREAKS = """(node) => {
  const breaks = [];
  let top = null, before = "";
  const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
  for (let text = walker.nextNode(); text; text = walker.nextNode()) {
    for (let i = 0; i < text.length; i++) {
      const range = document.createRange();
      range.setStart(text, i);
      range.setEnd(text, i + 1);
      const at = range.getBoundingClientRect().top;
      if (top !== null && at > top + 1) breaks.push([before, text.data[i]]);
      top = at;
      before = text.data[i];
    }
  }
  return breaks;
}"""
EXACT_TIME = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$"
AGO = r"^(now|\d+ (second|minute|hour|day)s? ago)$"


def field(card: Any, name: str) -> Any:
    """The value of a card's field (its <dd>), by the field's name (its <dt>)."""
    return card.locator(f'dt:text-is("{name}") + dd')


async def test_dashboard_renders_and_follows_changes(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright, expect

    assert shutil.which(CHROMIUM), "Debian's chromium is needed (.ci/system-deps installs it)"
    ARTIFACTS.mkdir(exist_ok=True)
    async with serving(tmp_path) as view, async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            errors: list[str] = []
            page = await dashboard(browser, view, errors)
            front = page.locator('[data-kind="Stream"][data-name="front-door"]')
            await expect(front).to_contain_text("rtsp://127.0.0.1:8554/cams/front-door")
            await expect(front).to_contain_text("Ready")
            for stream in ("front-door", "garage", "workshop", "yard"):  # names its Camera
                card = page.locator(f'[data-kind="Stream"][data-name="{stream}"]')
                camera = (await view.result("streams.get", {"name": stream}))["spec"]["camera"]
                await expect(field(card, "camera")).to_have_text(camera)
            # The URL is wider than its column: it wraps after a slash, not inside a name.
            rtsp = field(front, "rtsp")
            breaks = await rtsp.evaluate(LINE_BREAKS)
            assert breaks and all(before == "/" for before, _ in breaks), breaks
            assert await rtsp.evaluate("(e) => e.scrollWidth <= e.clientWidth")
            last = page.locator("#last-success time")  # how long ago; exact on hover
            await expect(last).to_have_text(re.compile(AGO))
            await expect(last).to_have_attribute("title", re.compile(EXACT_TIME))
            await expect(page.locator('[data-kind="Camera"]')).to_have_count(4)
            await expect(page.locator("#live")).to_have_text("live")
            await expect(page.locator("#mediamtx")).to_contain_text("up v1.20.1")
            assert "token" not in page.url  # taken out of the address bar

            recordings = view.docs / "recordings.yaml"
            recordings.write_text(recordings.read_text().replace("retention: 7d", "retention: 3d"))
            recording = page.locator('[data-kind="Recording"][data-name="front-door"]')
            await expect(recording).to_contain_text("3d")

            text = view.devices.read_text()
            view.devices.write_text(text[: text.index("  - node: /dev/video2")])
            garage = page.locator('[data-kind="Camera"][data-name="garage"]')
            await expect(garage).to_contain_text("DeviceAbsent")
            await page.screenshot(path=ARTIFACTS / "view-dashboard.png", full_page=True)

            phone = await browser.new_page(viewport={"width": 390, "height": 844})
            await phone.goto(f"{view.url}/#token={TOKEN}", wait_until="domcontentloaded")
            await expect(phone.locator('[data-kind="Stream"]')).to_have_count(4)
            width = await phone.evaluate("document.documentElement.scrollWidth")
            assert width <= 390  # nothing wider than the phone
            await phone.screenshot(path=ARTIFACTS / "view-dashboard-phone.png", full_page=True)
            assert errors == []
        finally:
            await browser.close()


async def test_dashboard_asks_for_a_token(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright, expect

    async with serving(tmp_path) as view, async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page()
            await page.goto(view.url, wait_until="domcontentloaded")
            await expect(page.locator("#login")).to_be_visible()
            await page.fill("#token", TOKEN)
            await page.click("#login button")
            await expect(page.locator('[data-kind="Camera"]')).to_have_count(4)
        finally:
            await browser.close()


async def test_dashboard_browses_recorded_segments(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright, expect

    ARTIFACTS.mkdir(exist_ok=True)
    async with (
        serving(tmp_path, **recorded_world(tmp_path)) as view,
        async_playwright() as playwright,
    ):
        newest = await view.result("recordings.segments", {"name": "front-door", "limit": 21})
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            errors: list[str] = []
            page = await dashboard(browser, view, errors, height=700)
            card = page.locator('[data-kind="Recording"][data-name="front-door"]')
            await expect(card).to_contain_text(f"{FRONT}, ")  # count, then size
            await expect(card).to_contain_text("NotWriting")  # the newest is hours old
            await expect(card).to_contain_text("free of")
            newest_time = field(card, "newest").locator("time")
            await expect(newest_time).to_have_text(re.compile(AGO))
            await expect(newest_time).to_have_attribute("title", exact(newest["items"][0]))
            panel = page.locator("#segments-panel")
            await expect(panel.locator("h2")).not_to_be_in_viewport()
            await card.get_by_role("button", name="Segments").click()
            await expect(panel).to_be_visible()
            await expect(panel.locator("h2")).to_be_in_viewport()  # scrolled to, below the
            header = await page.locator("header").bounding_box()  # sticky header
            heading = await panel.locator("h2").bounding_box()
            assert header and heading and heading["y"] >= header["y"] + header["height"]
            await page.screenshot(path=ARTIFACTS / "view-dashboard-segments-opened.png")
            await expect(panel).to_contain_text(f"1-20 of {FRONT}, newest first")
            rows = page.locator("#segments-rows tr")
            await expect(rows).to_have_count(20)
            first = rows.first.locator("a.play")
            await expect(first).to_have_attribute("href", newest["items"][0]["url"])
            assert newest["items"][0]["url"].startswith("http://127.0.0.1:9996/get?path=cams%2F")
            await expect(rows.first).to_contain_text(newest["items"][0]["file"])
            start = rows.first.locator("time")  # exact in the list, how long ago on hover
            await expect(start).to_have_text(exact(newest["items"][0]))
            await expect(start).to_have_attribute("title", re.compile(AGO))
            await page.screenshot(path=ARTIFACTS / "view-dashboard-recordings.png", full_page=True)
            await page.click("#older")
            await expect(rows).to_have_count(FRONT - 20)
            older = rows.first.locator("a.play")
            await expect(older).to_have_attribute("href", newest["items"][20]["url"])
            await expect(page.locator("#older")).to_be_disabled()
            await page.click("#segments-close")
            await expect(panel).to_be_hidden()

            phone = await browser.new_page(viewport={"width": 390, "height": 844})
            phone.on("pageerror", lambda e: errors.append(str(e)))
            await phone.goto(f"{view.url}/#token={TOKEN}", wait_until="domcontentloaded")
            phone_card = phone.locator('[data-kind="Recording"][data-name="front-door"]')
            await phone_card.get_by_role("button", name="Segments").click()
            await expect(phone.locator("#segments-rows tr")).to_have_count(20)
            await expect(phone.locator("#segments-directory")).to_contain_text("/front/cams/")
            width = await phone.evaluate("document.documentElement.scrollWidth")
            assert width <= 390  # the long directory wraps; the table scrolls on its own
            assert errors == []
        finally:
            await browser.close()


def exact(segment: dict[str, Any]) -> str:
    """A segment's start as the dashboard shows it exactly: to the second, in UTC."""
    start = datetime.fromisoformat(segment["start"]).astimezone(UTC)
    return start.strftime("%Y-%m-%d %H:%M:%S UTC")


async def test_playback_links_play_in_the_demo() -> None:
    """`camctl demo --view`: a segment's play link, followed in the browser, is the video."""
    from playwright.async_api import async_playwright, expect

    port = free_port()
    with demo("--view", f"127.0.0.1:{port}") as output:
        emulator = output.until(r"MediaMTX emulator at (http://\S+);")[1]
        output.until(r"^\$ .* run ")
        url = f"http://127.0.0.1:{port}"
        await asyncio.to_thread(wait_ready, url)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                errors: list[str] = []
                page = await browser.new_page(viewport={"width": 1280, "height": 900})
                page.on("pageerror", lambda e: errors.append(str(e)))
                await page.goto(url, wait_until="domcontentloaded")
                card = page.locator('[data-kind="Recording"][data-name="front-door"]')
                button = card.get_by_role("button", name="Segments")  # once one is written
                await expect(button).to_be_visible(timeout=30_000)
                await button.click()
                play = page.locator("#segments-rows tr a.play").first
                href = await play.get_attribute("href")
                assert href and href.startswith(f"{emulator}/get?path=cams%2Ffront-door&")
                async with page.expect_navigation() as followed:
                    await play.click()
                response = await followed.value
                assert response.status == 200
                assert response.headers["content-type"] == "video/mp4"
                video = await page.request.get(href)
                assert video.ok and (await video.body())[4:8] == b"ftyp"  # an MP4 file
                assert errors == []
            finally:
                await browser.close()


async def test_dashboard_shows_live_figures_and_a_bitrate_sparkline(tmp_path: Path) -> None:
    """Passes a second apart: each brings a bitrate sample (the emulator's publishers send
    2 Mbit/s), drawn as a polyline; readers, uptime and the Healthy condition show too."""
    from playwright.async_api import async_playwright, expect

    ARTIFACTS.mkdir(exist_ok=True)
    async with serving(tmp_path) as view, async_playwright() as playwright:
        view.run.emulator.runtime["cams/front-door"] = {
            "readers": [{"type": "webRTCSession", "id": "1"}, {"type": "rtspSession", "id": "2"}]
        }
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            errors: list[str] = []
            page = await dashboard(browser, view, errors)
            front = page.locator('[data-kind="Stream"][data-name="front-door"]')
            await expect(front).to_contain_text("Publishing")  # its Healthy condition
            for _ in range(4):
                await asyncio.sleep(1.1)  # statuses are to the second: one sample a second
                await view.run.settle()
            await expect(front.locator(".bitrate")).to_contain_text("Mbit/s")
            line = front.locator("svg.spark polyline")
            await expect(line).to_have_count(1)
            points = (await line.get_attribute("points") or "").split()
            assert len(points) >= 3, points
            assert all(0 <= float(y) <= 24 for _, y in (p.split(",") for p in points))
            stream = await view.result("streams.get", {"name": "front-door"})
            shown = await front.locator(".bitrate").inner_text()
            assert shown == f"{stream['status']['bitrate'] / 1e6:.1f} Mbit/s"
            assert 1_500_000 < stream["status"]["bitrate"] < 2_500_000, "the emulator's 2 Mbit/s"
            await expect(front).to_contain_text("readers2")
            await expect(front).to_contain_text(re.compile(r"uptime\d+(s|m \d+s)"))
            await page.screenshot(path=ARTIFACTS / "view-dashboard-live.png", full_page=True)
            assert errors == []
        finally:
            await browser.close()
