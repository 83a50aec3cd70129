"""End to end: `redline explore` on the fixture runs in Debian's headless Chromium (Playwright):
a checkpoint's error breakdown and one sample's argument diff, and the HTML report's plots
rendered. Screenshots are kept in artifacts/.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from redline.reports.report import write_report
from tests.explore_runs import BASELINE, STEP4, TRAIN
from tests.processes import running

CHROMIUM = Path(os.environ.get("REDLINE_CHROMIUM", "/usr/bin/chromium"))
# Without the background-networking flags Chromium keeps calling out to a network it cannot reach.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
WAIT_MS = 90_000  # two shared cores: a page can take a while to draw
expect.set_options(timeout=WAIT_MS)  # assertions wait apart from the page's own default


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def explorer(explore_runs, tmp_path):
    """`redline explore` on the fixture runs, as a user starts it; its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "redline.cli", "explore", str(explore_runs)]
    with (
        (tmp_path / "explore.log").open("w") as log,
        running(
            [*command, "--port", str(port)], grace=20, stdout=log, stderr=subprocess.STDOUT
        ) as proc,
    ):
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"redline explore exited: {(tmp_path / 'explore.log').read_text()}")
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("redline explore did not answer within 90 s")
            time.sleep(0.3)
        yield url


def pick(page: Page, where, label: str, option: str) -> None:
    """Choose ``option`` in the Streamlit selectbox labelled ``label``, typing it as a user
    would."""
    box = where.get_by_test_id("stSelectbox").filter(has=page.get_by_text(label, exact=True))
    box.click()
    page.keyboard.type(option)
    page.get_by_role("option", name=option, exact=True).click()


def rows(table) -> list[list[str]]:
    return [
        [cell.inner_text().strip() for cell in row.locator("th, td").all()]
        for row in table.locator("tr").all()
    ]


def test_explore_a_checkpoint_and_a_sample_in_chromium(browser, explorer):
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    page.set_default_timeout(WAIT_MS)
    page.goto(explorer)
    expect(page.get_by_text("Eval runs by checkpoint")).to_be_visible()
    expect(
        page.get_by_text("broken/truncated: the last line of samples.jsonl is cut short")
    ).to_be_visible()
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Errors", exact=True).click()
    pick(page, sidebar, "Checkpoint", STEP4)
    expect(page.get_by_role("heading", name=f"Errors · {STEP4}")).to_be_visible()

    breakdown = page.get_by_test_id("stTable").nth(1)
    expect(breakdown).to_contain_text("value_error")
    table = rows(breakdown)
    assert table[0] == ["suite", "category", "check_failed", "no_call", "value_error", "passed"]
    assert ["fc:dev", "dev_single", "0", "3", "4", "29"] in table
    assert ["regression", "instructions", "7", "0", "0", "33"] in table
    bars = page.get_by_test_id("stVegaLiteChart").locator("svg.marks g.mark-rect path")
    expect(bars.first).to_be_attached()
    assert bars.count() >= 4  # a bar per (category, error type) with failures
    page.wait_for_timeout(500)  # let the chart's transition finish before the picture
    page.screenshot(path=ARTIFACTS / "explore-errors.png")

    sidebar.get_by_text("Sample", exact=True).click()
    expect(page.get_by_role("heading", name=f"Sample · {STEP4}")).to_be_visible()
    pick(page, page.get_by_test_id("stMain"), "Sample", "dev_0003 · value_error")
    expect(page.get_by_text("Arguments, field by field")).to_be_visible()
    diff = page.get_by_test_id("stTable").first
    expect(diff).to_contain_text("differs")
    table = rows(diff)
    assert table[0] == ["call", "parameter", "expected", "got", "status"]
    assert ["search_flights #1", "origin", '"CDG"', '"CDG-X"', "differs"] in table
    assert ["search_flights #1", "destination", '"SFO"', '"SFO"', "equal"] in table
    expect(page.get_by_text("value_error — ast: origin='CDG-X' not accepted")).to_be_visible()
    # The address follows the selection once the browser hears of it: wait for it, as a user
    # copying the link would.
    expect(page).to_have_url(
        re.compile(r"page=Sample.*sample=dev_0003|sample=dev_0003.*page=Sample")
    )
    diff.scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / "explore-sample.png")
    page.close()


def test_report_plots_render_in_chromium(browser, explore_runs, tmp_path):
    out = tmp_path / "report.html"
    write_report(
        [
            explore_runs / BASELINE / "fc-dev",
            explore_runs / STEP4 / "eval" / "fc-dev",
            explore_runs / TRAIN,
        ],
        out,
    )
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(out.as_uri())
    images = page.locator("img[data-plot]")
    expect(images.first).to_be_visible()
    assert images.count() == 6  # categories x2, errors, reward, KL, loss
    sizes = images.evaluate_all(
        "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
    )
    for complete, width, height in sizes:
        assert complete and width > 300 and height > 150
    page.screenshot(path=ARTIFACTS / "report.png", full_page=True)
    page.close()
