"""Access logs: Combined Log Format + cookie, readers' cookies shared with the events, themed pages."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.generate.helpers import LOG_LINE, bad_rows, log_problem, read_lines


@pytest.fixture(scope="module")
def hits(landing: Path) -> list[re.Match]:
    truth = bad_rows(landing)
    out = []
    for path in sorted((landing / "logs").glob("*/*.log.gz")):
        skip = truth.get(("logs", path.relative_to(landing).as_posix()), {})
        out += [LOG_LINE.match(line) for n, line in enumerate(read_lines(path), 1) if n not in skip]
    return out


def test_lines_are_of_their_day_and_in_time_order(landing: Path) -> None:
    for path in sorted((landing / "logs").glob("*/*.log.gz")):
        matches = [m for line in read_lines(path) if (m := LOG_LINE.match(line))]
        times = [dt.datetime.strptime(m.group(4), "%d/%b/%Y:%H:%M:%S %z") for m in matches]
        assert times == sorted(times) and {t.date().isoformat() for t in times} == {path.parent.name}
        assert all(m.group(4).endswith(" +0000") for m in matches)


def test_each_line_parses_or_is_a_recorded_bad_row(landing: Path) -> None:
    truth = bad_rows(landing)
    kinds = Counter()
    for path in sorted((landing / "logs").glob("*/*.log.gz")):
        relative = path.relative_to(landing).as_posix()
        expected = truth.get(("logs", relative), {})
        problems = {n for n, line in enumerate(read_lines(path), 1) if log_problem(line)}
        assert problems == set(expected), relative
        assert path.name == "access-0001.log.gz" and relative.startswith(f"logs/{path.parent.name}/")
        kinds.update(expected.values())
    assert set(kinds) == {"truncated", "garbage"}


def test_readers_use_the_cookies_of_their_events(landing: Path, hits: list) -> None:
    identifiers = pq.read_table(landing / "_truth" / "identifiers.parquet").to_pylist()
    person_of = {
        r["identifier_value"]: r["person_id"] for r in identifiers if r["identifier_type"] == "anonymous_id"
    }
    cookies = [m.group(12) for m in hits]
    assert all(c == "-" or c in person_of for c in cookies)
    bots = [m for m in hits if "bot" in m.group(11).lower() or m.group(11).startswith(("curl", "python"))]
    assert bots and all(m.group(12) == "-" for m in bots)
    assert Counter(m.group(8) for m in hits).keys() >= {"200", "301", "404"}


def test_pages_carry_their_theme_in_words_not_always_in_the_path(landing: Path, hits: list) -> None:
    pages = pq.read_table(landing / "_truth" / "pages.parquet").to_pylist()
    assert len({p["theme"] for p in pages}) >= 5
    assert all(p["url"] == "https://www.example.com" + p["path"] for p in pages)
    hidden = [p for p in pages if f"/{p['theme']}/" not in p["path"]]
    assert 0.2 < len(hidden) / len(pages) < 0.8
    known = {p["path"] for p in pages}
    served = [m.group(6) for m in hits if m.group(8) == "200" and m.group(12) != "-"]
    assert served and all(path in known for path in served)


def test_people_read_their_favourite_themes(landing: Path, hits: list) -> None:
    theme_of = {
        p["path"]: p["theme"] for p in pq.read_table(landing / "_truth" / "pages.parquet").to_pylist()
    }
    identifiers = pq.read_table(landing / "_truth" / "identifiers.parquet").to_pylist()
    person_of = {
        r["identifier_value"]: r["person_id"] for r in identifiers if r["identifier_type"] == "anonymous_id"
    }
    top = {
        p["person_id"]: p["top_themes"]
        for p in pq.read_table(landing / "_truth" / "people.parquet").to_pylist()
    }
    read = defaultdict(Counter)
    for m in hits:
        if m.group(12) in person_of and m.group(6) in theme_of:
            read[person_of[m.group(12)]][theme_of[m.group(6)]] += 1
    heavy = [p for p, c in read.items() if sum(c.values()) >= 8]
    assert len(heavy) > 10
    assert sum(read[p].most_common(1)[0][0] in top[p][:2] for p in heavy) / len(heavy) > 0.7
