"""Magazine access logs: `logs/YYYY-MM-DD/access-NNNN.log.gz` (Combined Log Format + visitor cookie).

People read articles according to their theme preferences, from their browser devices, so the cookie
in the last field is the same anonymous_id their shop events carry (household guests read on their
host's browser as often as they shop on it, with its cookie). The theme of an article is in its
words, but only some paths name it (`/magazine/<theme>/...`); others are `/articles/<slug>` or
`/stories/<yyyy>/<mm>/<slug>`. Crawlers, redirects and dead links add noise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from pwh.generate import vocab
from pwh.generate.crm import DAY
from pwh.generate.lines import BadLine, Corruption, write_parts
from pwh.generate.people import MAX_DEVICES, SHARED_DEVICE_SESSION_SHARE, Population
from pwh.generate.sampling import (
    cumulative,
    group_starts,
    sample_members,
    sample_rows,
    session_starts,
    session_times,
)

SITE = "https://www.example.com"
ARTICLES_PER_THEME = 60
READ_SESSIONS_PER_DAY = 0.6
MEAN_PAGES_PER_VISIT = 3.0
BOT_SHARE = 0.1
EXTERNAL_REFERRERS = ("-", "https://www.google.com/", "https://www.facebook.com/", "https://t.co/",
                      "https://newsletter.example.com/", "https://shop.example.com/")  # fmt: skip
BOT_PATHS = ("/", "/robots.txt", "/sitemap.xml", "/wp-login.php", "/.env")  # the last two do not exist
BOT_IPS = ("192.0.2.201", "192.0.2.202", "198.51.100.250", "203.0.113.250")

RENDER_SQL = """
SELECT ip || ' - - [' || strftime(epoch_ms(ts_ms), '%d/%b/%Y:%H:%M:%S') || ' +0000] "' || method || ' '
    || path || ' HTTP/1.1" ' || status || ' ' || bytes || ' "' || referrer || '" "' || user_agent || '" "'
    || anonymous_id || '"' || chr(10) AS line
FROM part
"""


def _truncate(rng: np.random.Generator, line: str) -> str:
    """Cut somewhere before the end of the request field, so status and the rest are missing."""
    request_end = line.find('" ', line.find('"') + 1)
    return line[: int(rng.integers(8, max(request_end, 9)))]


def _garbage(rng: np.random.Generator, line: str) -> str:
    junk = rng.integers(33, 127, size=int(rng.integers(5, 80))).astype(np.uint8).tobytes().decode()
    return junk.replace('"', "'")


CORRUPTIONS = (Corruption("truncated", 0.6, _truncate), Corruption("garbage", 0.4, _garbage, inserted=True))


@dataclass
class Magazine:
    """The articles, and a dictionary of request paths the day columns index into."""

    path: list[str]
    title: list[str]
    theme: np.ndarray
    popularity: np.ndarray
    request_path: pa.StringArray  # article paths, their 301 forms, their 404 forms, BOT_PATHS
    referrer: pa.StringArray  # EXTERNAL_REFERRERS, then the full URL of each article

    @property
    def n(self) -> int:
        return len(self.path)

    def url(self, i: int) -> str:
        return SITE + self.path[i]


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def build_magazine(rng: np.random.Generator) -> Magazine:
    paths, titles, themes, used = [], [], [], set()
    for t, theme in enumerate(vocab.THEMES):
        words = vocab.THEME_WORDS[theme]
        for _ in range(ARTICLES_PER_THEME):
            w1, w2 = (words[i].replace("-", " ") for i in rng.choice(len(words), size=2, replace=False))
            u = rng.random(3)
            if u[0] < 0.35:  # a neutral or another theme's word makes the slug less obvious
                other = vocab.THEMES[int(rng.integers(len(vocab.THEMES)))]
                pool = vocab.NEUTRAL_WORDS if u[1] < 0.6 else vocab.THEME_WORDS[other]
                w2 = pool[int(rng.integers(len(pool)))].replace("-", " ")
            template = vocab.TITLE_TEMPLATES[int(rng.integers(len(vocab.TITLE_TEMPLATES)))]
            title = template.format(n=int(rng.integers(3, 16)), w=w1, W=w1.capitalize(), w2=w2)
            slug = _slug(title)
            while slug in used:
                slug += "-2"
            used.add(slug)
            if u[2] < 0.55:
                path = f"/magazine/{theme}/{slug}"
            elif u[2] < 0.85:
                path = f"/articles/{slug}"
            else:
                path = f"/stories/2025/{int(rng.integers(1, 13)):02d}/{slug}"
            paths.append(path)
            titles.append(title[0].upper() + title[1:])
            themes.append(t)
    requests = paths + [p + "/" for p in paths] + [p[:-1] for p in paths] + list(BOT_PATHS)
    return Magazine(
        paths, titles, np.array(themes), rng.lognormal(0.0, 1.0, size=len(paths)),
        pa.array(requests, pa.string()),
        pa.array([*EXTERNAL_REFERRERS, *(SITE + p for p in paths)], pa.string()),
    )  # fmt: skip


@dataclass
class DayLog:
    """One day of log lines as columns, sorted by time."""

    ts_ms: np.ndarray
    device: np.ndarray  # person * MAX_DEVICES + k; -1 for bots
    bot: np.ndarray  # index into vocab.BOT_USER_AGENTS / BOT_IPS; -1 for people
    no_cookie: np.ndarray  # people who refused cookies log "-"
    request: np.ndarray  # index into Magazine.request_path
    status: np.ndarray
    nbytes: np.ndarray
    referrer: np.ndarray  # index into Magazine.referrer

    def __len__(self) -> int:
        return len(self.ts_ms)


def simulate_day(mag: Magazine, pop: Population, day_start_s: int, rng: np.random.Generator) -> DayLog:
    # --- people reading: visits of a few articles each, themes from their preferences
    visits = rng.poisson(pop.activity * pop.reader_rate * READ_SESSIONS_PER_DAY)
    person = np.repeat(np.arange(pop.n), visits)
    k = (rng.random(len(person)) * pop.n_devices[person]).astype(np.int64)
    web = np.array([d.channel == "web" for d in vocab.DEVICES])
    device = person * MAX_DEVICES + k
    device = np.where(web[pop.device_kind[device]], device, person * MAX_DEVICES)  # apps don't read
    shared = pop.shared_device[person]
    device = np.where((shared >= 0) & (rng.random(len(person)) < SHARED_DEVICE_SESSION_SHARE), shared, device)
    start = session_starts(day_start_s * 1000, len(person), rng)
    pages = np.minimum(rng.geometric(1 / MEAN_PAGES_PER_VISIT, size=len(person)), 15)
    visit = np.repeat(np.arange(len(person)), pages)
    first = group_starts(visit)
    theme = sample_rows(cumulative(pop.theme_pref), person[visit], rng)
    article = sample_members(mag.theme, mag.popularity, theme, rng)
    gap = (rng.lognormal(0.0, 0.9, size=len(visit)) * 70_000).astype(np.int64)
    ts = session_times(start, visit, gap, (day_start_s + DAY) * 1000 - 1)
    # 301: old trailing-slash links, 404: mistyped links; the rest 200
    roll = rng.random(len(visit))
    status = np.select([roll < 0.03, roll < 0.05], [301, 404], 200)
    request = article + np.select([status == 301, status == 404], [mag.n, 2 * mag.n], 0)
    entry = rng.integers(len(EXTERNAL_REFERRERS), size=len(visit))
    referrer = np.where(first, entry, len(EXTERNAL_REFERRERS) + np.roll(article, 1))
    no_cookie = (rng.random(len(person)) < 0.05)[visit]

    # --- crawlers: anywhere, any time, no cookie
    n_bots = int(round(len(visit) * BOT_SHARE))
    bot = rng.integers(len(vocab.BOT_USER_AGENTS), size=n_bots)
    special = 3 * mag.n + rng.integers(len(BOT_PATHS), size=n_bots)
    bot_request = np.where(rng.random(n_bots) < 0.85, rng.integers(mag.n, size=n_bots), special)
    bot_status = np.where(bot_request >= 3 * mag.n + len(BOT_PATHS) - 2, 404, 200)

    status_all = np.concatenate([status, bot_status])
    size = np.select(
        [status_all == 200, status_all == 301], [rng.integers(4000, 60000, len(status_all)), 178], 512
    )
    day = DayLog(
        ts_ms=np.concatenate([ts, (day_start_s * 1000 + rng.integers(0, DAY * 1000, size=n_bots))]),
        device=np.concatenate([device[visit], np.full(n_bots, -1)]),
        bot=np.concatenate([np.full(len(visit), -1), bot]),
        no_cookie=np.concatenate([no_cookie, np.ones(n_bots, bool)]),
        request=np.concatenate([request, bot_request]),
        status=status_all,
        nbytes=size,
        referrer=np.concatenate([referrer, np.zeros(n_bots, np.int64)]),
    )  # fmt: skip
    by_time = np.argsort(day.ts_ms, kind="stable")
    for f in fields(DayLog):
        setattr(day, f.name, getattr(day, f.name)[by_time])
    return day


def render_part(
    con: duckdb.DuckDBPyConnection, mag: Magazine, pop: Population, day: DayLog, part: slice
) -> pa.Array:
    """The log lines (newline-terminated) of one slice of a day."""
    cols = {f.name: getattr(day, f.name)[part] for f in fields(DayLog)}
    is_bot, device = cols["bot"] >= 0, np.maximum(cols["device"], 0)
    # people's values first, then the bots' in each dictionary
    user_agents = pa.array([d.user_agent for d in vocab.DEVICES] + list(vocab.BOT_USER_AGENTS))
    ips = pa.concat_arrays([pop.ip, pa.array(BOT_IPS)])
    cookies = pa.concat_arrays([pop.anonymous_id.cast(pa.string()), pa.array(["-"])])
    table = pa.table({
        "ts_ms": cols["ts_ms"],
        "ip": ips.take(np.where(is_bot, len(pop.ip) + cols["bot"] % len(BOT_IPS), device)),
        "method": pa.array(["GET", "HEAD"]).take((is_bot & (cols["bot"] % 2 == 1)).astype(np.int64)),
        "path": mag.request_path.take(cols["request"]),
        "status": cols["status"],
        "bytes": cols["nbytes"],
        "referrer": mag.referrer.take(cols["referrer"]),
        "user_agent": user_agents.take(
            np.where(is_bot, len(vocab.DEVICES) + cols["bot"], pop.device_kind[device])
        ),
        "anonymous_id": cookies.take(np.where(cols["no_cookie"], len(pop.anonymous_id), device)),
    })  # fmt: skip
    con.register("part", table)
    try:
        return con.execute(RENDER_SQL).to_arrow_table().column("line")
    finally:
        con.unregister("part")


def write_day(
    landing_dir: Path,
    date_text: str,
    mag: Magazine,
    pop: Population,
    day: DayLog,
    rng: np.random.Generator,
    bad_share: float,
    con: duckdb.DuckDBPyConnection,
) -> tuple[list[tuple[str, BadLine]], int]:
    """Write a day's log; returns (relative file, bad line) pairs and the number of files."""
    return write_parts(
        landing_dir, f"logs/{date_text}/access-{{:04d}}.log.gz", len(day),
        lambda part: render_part(con, mag, pop, day, part), rng, bad_share, CORRUPTIONS,
    )  # fmt: skip
