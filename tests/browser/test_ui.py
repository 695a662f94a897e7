"""What a person sees in a real browser: the run report and the dbt docs of a `pwh run`, opened from disk,
and the local Airflow UI (login form, DAG list, DAG page). Headless Debian Chromium via Playwright; each
page is saved as a screenshot (tests/.artifacts/browser/, listed at the end of the pytest output).

The report and docs tests come first: they read the session's sample run, which is built before the
shared Airflow starts, so the two do not compete for the cores.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from pwh.pipeline import STEPS
from tests.dags.conftest import DAG_ID, LocalAirflow
from tests.sample import SAMPLE_RUN_DATE

pytestmark = pytest.mark.slow  # the session's `pwh run` of the sample, and a local Airflow


def test_run_report_opens_from_disk_with_its_charts_and_no_network(page: Page, screenshot, sample_run):
    data_dir, _ = sample_run
    report = data_dir / "reports" / "latest.html"
    assert report.exists(), f"`pwh run` wrote no run report at {report}"
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(report.as_uri())
    expect(page.locator("h1")).to_have_text(f"pwh run report · {SAMPLE_RUN_DATE}")
    facts = page.locator("table").first
    expect(facts.locator("td").nth(0)).to_contain_text(f"{SAMPLE_RUN_DATE}-")  # run id: <date>-<hex>
    expect(facts.locator("td").nth(2)).to_contain_text("tables")  # published, with its table count
    expect(page.get_by_role("heading", name="Rows loaded per source")).to_be_visible()
    expect(page.locator(".error")).to_have_count(0)  # no section failed to read the warehouse
    charts = page.locator("svg.chart")
    assert charts.count() >= 4, "loads, quarantine, segments and model metrics are charted"
    for index in range(charts.count()):  # drawn, with marks: points (circles) or bars (rects)
        chart = charts.nth(index)
        box = chart.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 100, chart.get_attribute("aria-label")
        assert chart.locator("circle, rect").count() > 0, chart.get_attribute("aria-label")
    screenshot(page, "1-run-report", full_page=True)
    assert [url for url in requested if not url.startswith("file:")] == [], "self-contained: no network"


def test_dbt_docs_open_from_the_report_and_show_the_models(page: Page, screenshot, sample_run):
    data_dir, _ = sample_run
    site = data_dir / "dbt" / "target" / "static_index.html"
    assert site.exists(), f"`pwh run` built no dbt docs site at {site}"

    page.goto((data_dir / "reports" / "latest.html").as_uri())
    page.get_by_role("link", name="dbt docs").click()  # the report links the docs relatively
    page.wait_for_url(f"{site.as_uri()}**")

    def sidebar(name: str):  # a visible entry of the sidebar's tree (hidden copies sit in the graph's menus)
        entries = page.locator(".filename-normal").filter(visible=True)
        return entries.filter(has_text=re.compile(rf"^\s*{re.escape(name)}\s*$"))

    expect(sidebar("pwh")).to_be_visible()  # the project, under "Projects", read from the embedded manifest
    screenshot(page, "2-dbt-docs")
    for folder in ("pwh", "models", "marts", "profiles", "user_profiles"):  # as a person would
        sidebar(folder).click()
    page.wait_for_url("**#!/model/model.pwh.user_profiles")
    expect(page.get_by_role("heading", name="user_profiles table")).to_be_visible()
    expect(page.get_by_text("pwh.marts.user_profiles")).to_be_visible()  # relation: database.schema.name
    # columns with types and the YAML's descriptions, and the lineage's parents ("Depends On")
    expect(page.get_by_role("row", name=re.compile(r"^person_id VARCHAR Stable person id"))).to_be_visible()
    expect(page.get_by_role("link", name="int_people_collected", exact=True)).to_be_visible()
    screenshot(page, "3-dbt-docs-user-profiles")


def test_airflow_ui_needs_a_login_then_lists_and_opens_the_dag(page: Page, screenshot, airflow: LocalAirflow):
    page.goto(airflow.base)
    page.wait_for_url("**/auth/login**")  # no session: the UI sends you to the login form
    username, password = page.get_by_label("Username"), page.get_by_label("Password")
    username.fill("admin")
    password.fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Invalid credentials")).to_be_visible()
    screenshot(page, "4-airflow-login-refused")

    password.fill(airflow.password())
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{airflow.base}/")
    page.goto(f"{airflow.base}/dags")
    dag_link = page.get_by_role("link", name=DAG_ID, exact=True)
    expect(dag_link).to_be_visible()
    expect(page.get_by_text("1 Dag", exact=True)).to_be_visible()  # and no example DAGs
    screenshot(page, "5-airflow-dags")

    dag_link.click()
    page.wait_for_url(f"**/dags/{DAG_ID}")
    expect(page.get_by_role("heading", name=DAG_ID)).to_be_visible()
    for step in (STEPS[0].name, STEPS[-1].name):  # the grid lists the tasks, first to last step
        expect(page.get_by_text(step, exact=True).first).to_be_visible()
    screenshot(page, "6-airflow-dag")
