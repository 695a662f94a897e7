"""The latent population: real people with names, contact details, devices and tastes.

Every source is a noisy view of these people; `_truth/` records the mapping back to them. Tastes are
Dirichlet preference vectors over product categories and magazine themes (the themes partly follow the
categories, so the two sources tell a consistent story about a person).

A few people share a home with their neighbour in the population (person 2k with 2k + 1): the guest of
such a household uses the host's first device (a browser) for part of their shop and magazine visits,
logging in with their own account. The device still belongs to its host; identity stitching must not
merge the two on its evidence.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from pwh.generate import ids, vocab

MAX_DEVICES = 4  # cookies / app installs per person
# a pair of people (2k, 2k + 1) is a household with this probability, so this share of people live in one
HOUSEHOLD_SHARE = 0.04
SHARED_DEVICE_SESSION_SHARE = 0.25  # of a guest's shop sessions and magazine visits: on the host's device


@dataclass
class Population:
    """Per-person columns; devices are flattened, device k of person p at index p * MAX_DEVICES + k."""

    first_name: list[str]
    last_name: list[str]
    gender: np.ndarray  # "F" | "M" | "X"
    birth_date: np.ndarray  # datetime64[D]
    email: list[str]  # true address, lower case
    country: np.ndarray  # index into vocab.COUNTRIES
    phone_nsn: list[str]  # national significant number, digits only
    street: list[str]
    city: list[str]
    postcode: list[str]
    activity: np.ndarray  # mean-1 multiplier of how much a person browses
    reader_rate: np.ndarray  # how much a person reads the magazine (0 for some)
    category_pref: np.ndarray  # (n, categories), rows sum to 1
    theme_pref: np.ndarray  # (n, themes)
    n_devices: np.ndarray  # 1..MAX_DEVICES
    device_kind: np.ndarray  # (n * MAX_DEVICES,) index into vocab.DEVICES
    anonymous_id: pa.StringArray  # (n * MAX_DEVICES,) uuid-like cookie / app instance id
    ip: pa.StringArray  # (n * MAX_DEVICES,)
    shared_device: np.ndarray  # per person: the housemate's device they also use (flat index); -1: none

    @property
    def n(self) -> int:
        return len(self.email)

    def top(self, prefs: np.ndarray, names: tuple[str, ...], k: int = 3) -> list[list[str]]:
        """The k strongest preferences of every person, strongest first."""
        order = np.argsort(-prefs, axis=1, kind="stable")[:, :k]
        return [[names[i] for i in row] for row in order]


def make_population(n: int, rng: np.random.Generator, window_start: dt.date) -> Population:
    """n people; only the first n_devices[p] devices of a person are ever used."""
    countries = vocab.COUNTRIES
    weights = np.array([c.weight for c in countries])
    country = rng.choice(len(countries), size=n, p=weights / weights.sum())
    gender = np.where(rng.random(n) < 0.5, "F", "M")
    gender[rng.random(n) < 0.02] = "X"
    first_f = rng.integers(len(vocab.FIRST_NAMES_F), size=n)
    first_m = rng.integers(len(vocab.FIRST_NAMES_M), size=n)
    first = [
        vocab.FIRST_NAMES_F[f] if g == "F" or (g == "X" and f % 2) else vocab.FIRST_NAMES_M[m]
        for g, f, m in zip(gender, first_f, first_m, strict=True)
    ]
    last = [vocab.LAST_NAMES[i] for i in rng.integers(len(vocab.LAST_NAMES), size=n)]
    age_days = rng.integers(18 * 365, 80 * 365, size=n)
    birth_date = np.datetime64(window_start, "D") - age_days

    email = _emails(first, last, birth_date, rng)
    phone, street, city, postcode = [], [], [], []
    # draw everything up front; the loop only assembles strings
    u = rng.random((n, 4))
    digits = rng.integers(10, size=(n, 12)).astype(str)
    postcode_digits = rng.integers(10, size=(n, 8)).astype(str)
    letters = rng.integers(65, 91, size=(n, 8)).astype(np.uint8).view("S1").astype(str)
    number = rng.integers(1, 200, size=n)
    for i, c in enumerate(country):
        spec = countries[c]
        prefix = spec.nsn_prefixes[int(u[i, 0] * len(spec.nsn_prefixes))]
        phone.append(prefix + "".join(digits[i, : sum(spec.groups) - len(prefix)]))
        name = vocab.STREET_NAMES[int(u[i, 1] * len(vocab.STREET_NAMES))]
        suffix = spec.street_suffixes[int(u[i, 2] * len(spec.street_suffixes))]
        street.append(spec.street_format.format(num=number[i], name=name, suffix=suffix))
        city.append(spec.cities[int(u[i, 3] * len(spec.cities))])
        d, a = iter(postcode_digits[i]), iter(letters[i])
        postcode.append(
            "".join(next(d) if ch == "9" else next(a) if ch == "A" else ch for ch in spec.postcode)
        )

    # heavy-tailed activity: most people browse a little, a few a lot
    activity = rng.lognormal(0.0, 1.0, size=n)
    activity /= activity.mean()
    reader_rate = np.where(rng.random(n) < 0.35, 0.0, rng.gamma(2.0, 0.5, size=n))
    n_cat, n_theme = len(vocab.CATEGORIES), len(vocab.THEMES)
    category_pref = rng.dirichlet(np.full(n_cat, 0.35), size=n)
    # people who like a category lean towards its magazine theme
    cat_to_theme = np.zeros((n_cat, n_theme))
    for i, category in enumerate(vocab.CATEGORIES):
        cat_to_theme[i, vocab.THEMES.index(category.theme)] = 1.0
    theme_pref = 0.6 * rng.dirichlet(np.full(n_theme, 0.35), size=n) + 0.4 * category_pref @ cat_to_theme

    n_devices = rng.choice(np.arange(1, MAX_DEVICES + 1), size=n, p=[0.35, 0.38, 0.18, 0.09])
    dev_w = np.array(vocab.DEVICE_WEIGHTS)
    device_kind = rng.choice(len(dev_w), size=(n, MAX_DEVICES), p=dev_w / dev_w.sum())
    # device 0 is always a browser so everyone can appear in the access logs
    web_w = dev_w[: vocab.WEB_DEVICES] / dev_w[: vocab.WEB_DEVICES].sum()
    device_kind[:, 0] = rng.choice(vocab.WEB_DEVICES, size=n, p=web_w)
    anonymous_id = ids.hex_ids(rng, n * MAX_DEVICES, uuid=True)
    # documentation address ranges: shared by many devices, so an IP is no identity
    ip_block = rng.choice(np.array(["192.0.2", "198.51.100", "203.0.113"]), size=n * MAX_DEVICES)
    hosts = rng.integers(1, 255, size=n * MAX_DEVICES)
    ip = pa.array([f"{b}.{h}" for b, h in zip(ip_block, hosts, strict=True)], pa.string())
    return Population(
        first, last, gender, birth_date, email, country, phone, street, city, postcode, activity,
        reader_rate, category_pref, theme_pref, n_devices, device_kind.ravel(), anonymous_id, ip,
        _shared_devices(n, rng),
    )  # fmt: skip


def _shared_devices(n: int, rng: np.random.Generator) -> np.ndarray:
    """Per person, the host's first device a household guest also uses; -1 for everybody else.

    Drawn last, so households leave every other draw of the population as it was.
    """
    pairs = n // 2
    household = np.flatnonzero(rng.random(pairs) < HOUSEHOLD_SHARE)
    host = 2 * household + (rng.random(pairs) < 0.5)[household]
    guest = 4 * household + 1 - host  # the other one of the pair: 2k + 2k + 1 - host
    shared = np.full(n, -1, dtype=np.int64)
    shared[guest] = host * MAX_DEVICES  # device 0: always a browser
    return shared


def _emails(first: list[str], last: list[str], birth: np.ndarray, rng: np.random.Generator) -> list[str]:
    """Unique, plausible addresses; a number is added when the plain pattern is taken."""
    used: set[str] = set()
    out = []
    years = birth.astype("datetime64[Y]").astype(int) + 1970
    patterns = rng.integers(4, size=len(first))
    domains = rng.integers(len(vocab.EMAIL_DOMAINS), size=len(first))
    for f, la, year, pattern, dom in zip(first, last, years, patterns, domains, strict=True):
        f, la = f.lower(), la.lower().replace(" ", "")
        local = (f"{f}.{la}", f"{f}{la}", f"{f[0]}.{la}", f"{f}_{la}{year % 100:02d}")[pattern]
        domain = vocab.EMAIL_DOMAINS[dom]
        address, k = f"{local}@{domain}", 1
        while address in used:
            k += 1
            address = f"{local}{k}@{domain}"
        used.add(address)
        out.append(address)
    return out
