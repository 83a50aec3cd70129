"""In Chromium, `redline explore` on standalone runs (two `redline bfcl` runs, a regression run,
loose records): Compare opens on the two checkpoints that share suites, and a passed
irrelevance sample shows no parse-error warning. Reuses test_explore_browser's fixtures.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from tests import test_explore_browser as shared
from tests.explore_runs import BFCL_OTHER, BFCL_RUN, BFCL_SHARED, build_bfcl_runs

# The Chromium and `redline explore` fixtures, with the runs below served in place of theirs.
browser, explorer = shared.browser, shared.explorer


@pytest.fixture(scope="module")
def explore_runs(tmp_path_factory):
    """The runs `explorer` serves, in place of the training fixture."""
    return build_bfcl_runs(tmp_path_factory.mktemp("bfcl") / "runs")


def test_compare_and_an_irrelevance_sample_in_chromium(browser, explorer):
    page = browser.new_page(viewport={"width": 1400, "height": 2000})
    page.set_default_timeout(shared.WAIT_MS)
    page.goto(f"{explorer}/?page=Compare")
    main = page.get_by_test_id("stMain")
    for label, value in (("Baseline", BFCL_OTHER), ("Candidate", BFCL_RUN)):
        expect(main.get_by_role("combobox", name=label)).to_have_value(value)
    for category in BFCL_SHARED:
        expect(page.get_by_role("heading", name=f"bfcl:{category}")).to_be_visible()
    expect(
        page.get_by_text("Overall: the gate holds on 1 of 2 suites; 1 could not be judged")
    ).to_be_visible()
    expect(page.get_by_text("These checkpoints share no suite.")).to_have_count(0)
    page.screenshot(path=shared.ARTIFACTS / "explore-compare.png")

    query = {"page": "Sample", "checkpoint": BFCL_RUN, "suite": "bfcl:irrelevance"}
    page.goto(f"{explorer}/?{urlencode({**query, 'sample': 'irrelevance_0'})}")
    expect(page.get_by_role("heading", name=f"Sample · {BFCL_RUN}")).to_be_visible()
    expect(page.get_by_text("irrelevance_0 (irrelevance, expects no_call): passed")).to_be_visible()
    expect(page.get_by_text("No call was made, as this sample expects.")).to_be_visible()
    # Once the last table (the scores) is drawn the page is complete: then look for a warning.
    expect(page.get_by_test_id("stTable").last).to_contain_text("irrelevance")
    expect(page.get_by_text("parse error (")).to_have_count(0)
    page.screenshot(path=shared.ARTIFACTS / "explore-irrelevance.png")
    page.close()
