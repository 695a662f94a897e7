"""Headless Chromium (Debian's, via Playwright) for the browser tests, and where their screenshots go.

Playwright's own browser download needs the internet: never `playwright install`. The browser is
Debian's `chromium` package, which `make test` installs (Makefile target `browser`).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dags.conftest import airflow  # noqa: F401  the one local Airflow, shared with tests/dags

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps reaching for Google's hosts on a closed network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # tests run as root in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[1] / ".artifacts" / "browser"  # git-ignored
_taken: list[Path] = []


@pytest.fixture(scope="session")
def screenshots_dir() -> Path:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)  # no stale pictures from an earlier session
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS


@pytest.fixture
def screenshot(screenshots_dir: Path):
    """`screenshot(page, name, full_page=False)`: saves `<SCREENSHOTS>/<name>.png` (listed at the end)."""

    def take(page, name: str, full_page: bool = False) -> Path:
        path = screenshots_dir / f"{name}.png"
        page.screenshot(path=path, full_page=full_page)
        _taken.append(path)
        return path

    return take


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium. `make test` installs it "
            "(as root: apt-get install chromium)."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser) -> Iterator:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(30_000)
    page = context.new_page()
    yield page
    context.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _taken:
        names = ", ".join(path.name for path in _taken)
        terminalreporter.write_line(f"browser screenshots in {SCREENSHOTS}: {names}")
