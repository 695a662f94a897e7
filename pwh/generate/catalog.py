"""The product catalog (`catalog/products.csv`) and sampling of products by category and day.

Most products launched before the window; a few launch during it and may only be seen from their
launch day on. Popularity is heavy-tailed, so a handful of products dominate views and sales.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pwh.generate import vocab
from pwh.generate.lines import BadLine, bad_count
from pwh.generate.sampling import sample_members

HEADER = (
    "product_id",
    "title",
    "description",
    "category",
    "brand",
    "price",
    "currency",
    "tags",
    "launched_at",
)
NEW_PRODUCT_SHARE = 0.05
SERIES = ("", "", "", " Pro", " Mini", " 2", " Max", " Lite", " Plus", " Classic")
BAD_PRICES = ("N/A", "12,99", "TBD", "€19.99", "call us")


@dataclass
class Catalog:
    product_id: list[str]
    title: list[str]
    description: list[str]
    brand: list[str]
    tags: list[str]
    category: np.ndarray  # index into vocab.CATEGORIES
    price_eur: np.ndarray
    launch_day: np.ndarray  # days after the window start (negative: launched before)
    popularity: np.ndarray
    window_start: dt.date

    @property
    def n(self) -> int:
        return len(self.product_id)

    def url(self, i: int) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", self.title[i].lower()).strip("-")
        return f"https://shop.example.com/p/{self.product_id[i]}-{slug}"

    def price_table(self) -> np.ndarray:
        """(products, currencies) prices converted from EUR with the fixed rates, rounded to cents."""
        return np.round(self.price_eur[:, None] * np.array(vocab.EUR_RATES)[None, :], 2)

    def sample(self, categories: np.ndarray, day: int, rng: np.random.Generator) -> np.ndarray:
        """One product per entry of `categories`, by popularity among products launched by `day`."""
        return sample_members(self.category, self.popularity, categories, rng, self.launch_day <= day)


def make_catalog(n: int, days: int, window_start: dt.date, rng: np.random.Generator) -> Catalog:
    """n products over all categories; about NEW_PRODUCT_SHARE of them launch during the window."""
    n_cat = len(vocab.CATEGORIES)
    # every category gets products, then the rest at random
    category = np.concatenate([np.arange(n_cat), rng.integers(n_cat, size=n - n_cat)])
    is_new = rng.random(n) < NEW_PRODUCT_SHARE
    launch_day = np.where(is_new, rng.integers(0, days, size=n), -rng.integers(1, 1000, size=n))
    launch_day[:n_cat] = -rng.integers(400, 1000, size=n_cat)  # no category is ever empty
    popularity = rng.lognormal(0.0, 1.2, size=n) * np.where(is_new, 2.0, 1.0)
    medians = np.array([c.median_price_eur for c in vocab.CATEGORIES])[category]
    raw_price = rng.lognormal(np.log(medians), 0.5)
    price = np.maximum(np.floor(raw_price) + rng.choice([0.99, 0.49, 0.0], size=n), 0.99)

    u = rng.random((n, 5))
    title, description, brand, tags = [], [], [], []
    for i, c in enumerate(category):
        spec = vocab.CATEGORIES[c]
        b = spec.brands[int(u[i, 0] * len(spec.brands))]
        adjective = spec.adjectives[int(u[i, 1] * len(spec.adjectives))]
        noun = spec.nouns[int(u[i, 2] * len(spec.nouns))]
        series = SERIES[int(u[i, 3] * len(SERIES))]
        title.append(f"{b} {adjective.title()} {noun.title()}{series}")
        picked = rng.choice(len(spec.tags), size=2 + int(u[i, 4] * 3), replace=False)
        tag_list = [spec.tags[t] for t in picked] + ([vocab.GENERIC_TAGS[i % 5]] if u[i, 4] > 0.7 else [])
        tags.append("|".join(tag_list))
        description.append(
            f"{adjective.capitalize()} {noun} by {b}. Great for {tag_list[0].replace('-', ' ')}, "
            f"{tag_list[1].replace('-', ' ')} and everyday use."
        )
        brand.append(b)
    product_id = [f"P{i + 1:06d}" for i in range(n)]
    return Catalog(
        product_id, title, description, brand, tags, category, price, launch_day, popularity, window_start
    )


def write_catalog(path: Path, catalog: Catalog, rng: np.random.Generator, bad_share: float) -> list[BadLine]:
    """Write products.csv with some unusable extra rows (empty product_id, non-numeric price)."""
    rows = [
        [
            catalog.product_id[i], catalog.title[i], catalog.description[i],
            vocab.CATEGORIES[catalog.category[i]].name, catalog.brand[i], f"{catalog.price_eur[i]:.2f}",
            "EUR", catalog.tags[i],
            (catalog.window_start + dt.timedelta(days=int(catalog.launch_day[i]))).isoformat(),
        ]
        for i in range(catalog.n)
    ]  # fmt: skip
    # bad rows are extra rows (never the only row of a product the events refer to)
    bad = []
    for j in range(bad_count(catalog.n, bad_share)):
        row = list(rows[int(rng.integers(catalog.n))])
        if j % 2 == 0:
            row[0] = ""
        else:
            row[0], row[5] = f"P{catalog.n + 1 + j:06d}", BAD_PRICES[j // 2 % len(BAD_PRICES)]
        bad.append((int(rng.integers(len(rows) + 1)), row))
    for position, row in sorted(bad, key=lambda b: b[0], reverse=True):
        rows.insert(position, row)
    bad_lines = []
    # row numbers are only final once all inserts are done
    for number, row in enumerate(rows, start=1):
        if row[0] == "" or not _is_number(row[5]):
            bad_lines.append(BadLine(number, "empty_product_id" if row[0] == "" else "bad_price"))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(rows)
    return bad_lines


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
