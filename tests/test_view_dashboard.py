"""The dashboard in real headless Chromium (Debian's), driven by Playwright: it renders the
resources, a file edit and an unplugged camera show up without a reload, and a Recording's
real segments can be browsed with their playback links. Screenshots are kept in artifacts/.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
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


async def dashboard(browser: Any, view: View, errors: list[str]) -> Any:
    """A desktop-sized page of the dashboard, given the token in its address; the page's
    uncaught errors are appended to `errors`."""
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(f"{view.url}/#token={TOKEN}", wait_until="domcontentloaded")
    return page


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
            page = await dashboard(browser, view, errors)
            card = page.locator('[data-kind="Recording"][data-name="front-door"]')
            await expect(card).to_contain_text(f"{FRONT}, ")  # count, then size
            await expect(card).to_contain_text("NotWriting")  # the newest is hours old
            await expect(card).to_contain_text("free of")
            await card.get_by_role("button", name="Segments").click()
            panel = page.locator("#segments-panel")
            await expect(panel).to_be_visible()
            await expect(panel).to_contain_text(f"1-20 of {FRONT}, newest first")
            rows = page.locator("#segments-rows tr")
            await expect(rows).to_have_count(20)
            first = rows.first.locator("a.play")
            await expect(first).to_have_attribute("href", newest["items"][0]["url"])
            assert newest["items"][0]["url"].startswith("http://127.0.0.1:9996/get?path=cams%2F")
            await expect(rows.first).to_contain_text(newest["items"][0]["file"])
            await page.screenshot(path=ARTIFACTS / "view-dashboard-recordings.png", full_page=True)
            await page.click("#older")
            await expect(rows).to_have_count(FRONT - 20)
            older = rows.first.locator("a.play")
            await expect(older).to_have_attribute("href", newest["items"][20]["url"])
            await expect(page.locator("#older")).to_be_disabled()
            await page.click("#segments-close")
            await expect(panel).to_be_hidden()
            assert errors == []
        finally:
            await browser.close()
