"""Shop analytics events: `events/YYYY-MM-DD/events-NNNN.jsonl.gz`.

A day is simulated as numpy columns, never as per-event Python objects: sessions (person, device,
start), browse events inside them (page and product views, searches, videos, newsletter forms), then
the funnel on top (add to cart, removals, checkout, purchase) and logins. Purchases become CRM orders.
DuckDB renders the columns as JSON lines, and bad lines are spliced in while writing.

Identifiers are messy the way real tracking is: household guests browse and log in on their host's
device (`people.py`), a few newsletter forms are filled in with a placeholder address (JUNK_EMAILS), and
a few sessions come from clients that send a placeholder cookie (JUNK_ANONYMOUS_IDS). Junk values belong
to no one; `_truth/junk_identifiers.parquet` counts them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from pwh.generate import ids, vocab
from pwh.generate.catalog import Catalog
from pwh.generate.crm import DAY, Crm, OrderBatch, person_currency
from pwh.generate.lines import BadLine, Corruption, write_parts
from pwh.generate.people import MAX_DEVICES, SHARED_DEVICE_SESSION_SHARE, Population
from pwh.generate.sampling import (
    cumulative,
    group_starts,
    sample_rows,
    session_starts,
    session_times,
    weighted_pick,
)

EVENT_TYPES = ("page_view", "product_view", "add_to_cart", "remove_from_cart", "checkout_started", "purchase",
               "search", "login", "signup", "video_play", "form_submit")  # fmt: skip
(
    PAGE_VIEW,
    PRODUCT_VIEW,
    ADD_TO_CART,
    REMOVE_FROM_CART,
    CHECKOUT,
    PURCHASE,
    SEARCH,
    LOGIN,
    SIGNUP,
    VIDEO,
    FORM,
) = range(len(EVENT_TYPES))
CHANNELS = ("web", "ios", "android", "server")
WEB, SERVER = 0, 3

# behaviour knobs, tuned to ~9-10 events per person and day
SESSIONS_PER_PERSON_DAY = 1.45
MEAN_BROWSE_EVENTS = 6.0
FIRST_EVENT = {PAGE_VIEW: 0.5, PRODUCT_VIEW: 0.35, SEARCH: 0.15}
LATER_EVENT = {PAGE_VIEW: 0.25, PRODUCT_VIEW: 0.5, SEARCH: 0.12, VIDEO: 0.1, FORM: 0.03}
ADD_TO_CART_P, REMOVE_P, CHECKOUT_P, PURCHASE_P, LOGIN_P = 0.15, 0.12, 0.45, 0.65, 0.3
# median seconds before an event of each type (EVENT_TYPES order)
GAP_S = np.array([25, 40, 6, 20, 30, 90, 12, 20, 60, 30, 40], dtype=float)
# UTC offsets as clients send them (January): index 0 is "Z"
TZ_SUFFIXES = ("Z", "+00:00", "+01:00", "-05:00")
TZ_MINUTES = np.array([0, 0, 60, -300], dtype=np.int64)
SHOP = "https://shop.example.com"
EXTERNAL_REFERRERS = (
    "https://www.google.com/", "https://www.bing.com/", "https://www.instagram.com/",
    "https://www.facebook.com/", "https://newsletter.example.com/", "https://www.example.com/",
)  # fmt: skip
# placeholders typed into newsletter forms. The identity blocklist (dbt_project/seeds/identity_blocklist.csv)
# catches the first three; asdf@asdf.com gets through, so only the shared-identifier guard stops it linking
# the people who typed it.
JUNK_EMAILS = ("test@test.com", "noreply@example.com", "test@gmail.com", "asdf@asdf.com")
JUNK_EMAIL_SHARE = 0.005  # of form_submit events; at least one a day
# cookies of broken clients: a web tracker that lost its id, an app reporting the zeroed advertising id
JUNK_ANONYMOUS_IDS = ("undefined", "00000000-0000-0000-0000-000000000000")
JUNK_ANONYMOUS_ID_SHARE = 0.002  # of sessions; at least one a day

RENDER_SQL = """
SELECT to_json(struct_pack(
    event_id := event_id,
    event_type := event_type,
    occurred_at := strftime(epoch_ms(ts_ms + tz_minutes * 60000), '%Y-%m-%dT%H:%M:%S.%g') || tz_suffix,
    anonymous_id := anonymous_id,
    user_id := user_id::VARCHAR,
    email := email,
    session_id := session_id,
    channel := channel,
    device := CASE WHEN device_type IS NULL THEN NULL
        ELSE struct_pack(type := device_type, os := device_os, browser := device_browser) END,
    page := CASE WHEN url IS NULL THEN NULL
        ELSE struct_pack(url := url, title := title, referrer := referrer) END,
    product := CASE WHEN product_id IS NULL THEN NULL
        ELSE struct_pack(product_id := product_id, price := price, currency := currency,
                         quantity := quantity) END,
    order_id := order_id::VARCHAR,
    properties := properties::JSON
)) || chr(10) AS line
FROM part
"""


def _dumps(doc: dict) -> str:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def _without_field(rng: np.random.Generator, line: str) -> str:
    doc = json.loads(line)
    del doc[("event_id", "occurred_at", "anonymous_id")[int(rng.integers(3))]]
    return _dumps(doc)


def _set_field(name: str, values: tuple[str, ...]):
    def make(rng: np.random.Generator, line: str) -> str:
        return _dumps(json.loads(line) | {name: values[int(rng.integers(len(values)))]})

    return make


CORRUPTIONS = (
    Corruption("malformed_json", 0.25, lambda rng, line: line[: int(rng.integers(10, len(line) - 10))]),
    Corruption("missing_field", 0.2, _without_field),
    Corruption(
        "unknown_event_type", 0.15, _set_field("event_type", ("pageview_v2", "app_open", "PAGE_VIEW"))
    ),
    Corruption("bad_timestamp", 0.15, _set_field("occurred_at", ("2026-02-30T25:61:00Z", "yesterday"))),
    Corruption("duplicate", 0.25, lambda rng, line: line, inserted=True),
)


@dataclass
class Site:
    """Everything an event can point at, as Arrow dictionaries the day columns index into."""

    url: pa.StringArray  # pages, then external referrers (which have no title)
    title: pa.StringArray
    properties: pa.StringArray  # JSON texts
    home: int
    misc_pages: np.ndarray  # deals, help
    newsletter: int
    checkout: int
    login: int
    signup: int
    category_page: np.ndarray  # per category
    product_page: int  # page of product i is product_page + i
    query_start: np.ndarray  # per category: first query; search page of query q is search_page + q
    query_count: np.ndarray
    search_page: int
    external: np.ndarray
    prop_login: int  # two methods from here
    prop_signup: int
    prop_form: int
    prop_payment: int  # three methods from here
    prop_cart: int  # cart with k items: prop_cart + k - 1 (k <= 20)
    prop_query: int
    prop_video: int  # per product


SHOP_PAGES = (("/", "Example Shop | Home"), ("/deals", "Deals of the week | Example Shop"),
              ("/help", "Help & contact | Example Shop"), ("/newsletter", "Newsletter | Example Shop"),
              ("/checkout", "Checkout | Example Shop"), ("/account/login", "Log in | Example Shop"),
              ("/account/signup", "Create account | Example Shop"))  # fmt: skip


def build_site(catalog: Catalog) -> Site:
    pages: list[tuple[str, str | None]] = []
    props: list[dict] = [{}]

    def add(table: list, entries: list) -> int:
        """Append entries to a dictionary; returns the index of the first."""
        table += entries
        return len(table) - len(entries)

    add(pages, [(SHOP + path, title) for path, title in SHOP_PAGES])
    categories = [(f"{SHOP}/c/{c.name}", f"{c.name.title()} | Example Shop") for c in vocab.CATEGORIES]
    category_page = add(pages, categories) + np.arange(len(categories))
    product_page = add(pages, [(catalog.url(i), catalog.title[i]) for i in range(catalog.n)])
    # search terms per category: its nouns, brands and tags
    queries = [[*c.nouns, *(b.lower() for b in c.brands), *c.tags] for c in vocab.CATEGORIES]
    flat = [q for qs in queries for q in qs]
    search_page = add(
        pages, [(f"{SHOP}/search?q={q.replace(' ', '+')}", f"Search results for {q}") for q in flat]
    )
    external = add(pages, [(url, None) for url in EXTERNAL_REFERRERS]) + np.arange(len(EXTERNAL_REFERRERS))
    query_count = np.array([len(q) for q in queries])

    prop_login = add(props, [{"method": "password"}, {"method": "google"}])
    prop_signup = add(props, [{"method": "email"}])
    prop_form = add(props, [{"form": "newsletter"}])
    prop_payment = add(props, [{"payment_method": m} for m in ("card", "paypal", "klarna")])
    prop_cart = add(props, [{"cart_items": k} for k in range(1, 21)])
    prop_query = add(props, [{"query": q, "results": 10 + len(q) * 7 % 90} for q in flat])
    prop_video = add(
        props, [{"video_id": f"vid-{p}", "autoplay": i % 3 == 0} for i, p in enumerate(catalog.product_id)]
    )
    return Site(
        url=pa.array([p[0] for p in pages], pa.string()), title=pa.array([p[1] for p in pages], pa.string()),
        properties=pa.array([_dumps(p) for p in props], pa.string()),
        home=0, misc_pages=np.array([1, 2]), newsletter=3, checkout=4, login=5, signup=6,  # SHOP_PAGES order
        category_page=category_page, product_page=product_page, search_page=search_page,
        query_start=np.cumsum(query_count) - query_count, query_count=query_count, external=external,
        prop_login=prop_login, prop_signup=prop_signup, prop_form=prop_form, prop_payment=prop_payment,
        prop_cart=prop_cart, prop_query=prop_query, prop_video=prop_video,
    )  # fmt: skip


def _typed_oddly(emails: list[str]) -> list[str]:
    """How some people type their address: all caps or capitalised."""
    return [e.upper() if i % 2 else e.title() for i, e in enumerate(emails)]


@dataclass
class EventContext:
    """What stays fixed from day to day: the people, catalog, CRM and the dictionaries events use."""

    pop: Population
    catalog: Catalog
    crm: Crm
    site: Site
    window_start_s: int
    cum_category: np.ndarray
    currency: np.ndarray  # per person
    tz: np.ndarray  # per person: index into TZ_SUFFIXES
    prices: np.ndarray  # (product, currency)
    product_ids: pa.StringArray
    emails: pa.StringArray  # person emails, their odd-case forms, record emails, their odd-case forms, junk
    anonymous_ids: pa.StringArray  # devices (Population.anonymous_id), then JUNK_ANONYMOUS_IDS

    @classmethod
    def build(cls, pop: Population, catalog: Catalog, crm: Crm, window_start_s: int) -> EventContext:
        # the suffix with the country's offset (index 0, "Z", is what some clients send instead)
        tz_by_country = np.array([1 + list(TZ_MINUTES[1:]).index(c.utc_offset_min) for c in vocab.COUNTRIES])
        people_emails = pop.email + _typed_oddly(pop.email)
        emails = pa.array(people_emails + crm.login_email + _typed_oddly(crm.login_email) + list(JUNK_EMAILS))
        anonymous_ids = pa.concat_arrays(
            [pop.anonymous_id, pa.array(JUNK_ANONYMOUS_IDS, pop.anonymous_id.type)]
        )
        return cls(
            pop, catalog, crm, build_site(catalog), window_start_s, cumulative(pop.category_pref),
            person_currency(pop), tz_by_country[pop.country], catalog.price_table(),
            pa.array(catalog.product_id, pa.string()), emails, anonymous_ids,
        )  # fmt: skip

    @property
    def junk_email(self) -> int:
        """Index of the first of JUNK_EMAILS in `emails`."""
        return len(self.emails) - len(JUNK_EMAILS)

    @property
    def junk_anonymous_id(self) -> int:
        """Index of the first of JUNK_ANONYMOUS_IDS in `anonymous_ids`."""
        return len(self.anonymous_ids) - len(JUNK_ANONYMOUS_IDS)


@dataclass
class DayEvents:
    """One day of events as columns, sorted by time. -1 means null in the index columns."""

    ts_ms: np.ndarray
    tz: np.ndarray
    event_type: np.ndarray
    session: np.ndarray
    device: np.ndarray  # index into EventContext.anonymous_ids: person * MAX_DEVICES + k, or a junk id
    device_kind: np.ndarray
    channel: np.ndarray
    user_id: np.ndarray
    email: np.ndarray
    page: np.ndarray
    referrer: np.ndarray
    product: np.ndarray
    currency: np.ndarray
    quantity: np.ndarray
    order: np.ndarray  # position in `orders`
    properties: np.ndarray

    def __len__(self) -> int:
        return len(self.ts_ms)


@dataclass
class Sessions:
    """One row per session of the day."""

    person: np.ndarray
    is_signup: np.ndarray  # the session in which a new customer signs up
    signup_ms: np.ndarray  # when, for signup sessions (0 otherwise)
    device: np.ndarray  # person * MAX_DEVICES + k, or the host's device of a household guest
    channel: np.ndarray
    start_ms: np.ndarray
    n_browse: np.ndarray  # browse events, before cart, login and checkout events are added
    record: np.ndarray  # CRM record the person would log in with; -1: none
    can_login: np.ndarray

    def __len__(self) -> int:
        return len(self.person)


class Draft:
    """Events added in groups, each placed in its session by a fractional position; ordered at the end."""

    COLUMNS = ("session", "pos", "kind", "page", "props", "product", "quantity")

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, ...]] = []

    def add(
        self,
        session: np.ndarray,
        pos: np.ndarray,
        kind: int | np.ndarray,
        page: int | np.ndarray,
        props: int | np.ndarray,
        product: np.ndarray | None = None,
        quantity: np.ndarray | None = None,
    ) -> None:
        """Events of the given sessions at fractional positions; scalars apply to all of them."""
        n = len(session)
        self.parts.append(tuple(
            np.broadcast_to(np.asarray(column), n)
            for column in (session, pos, kind, page, props, -1 if product is None else product,
                           0 if quantity is None else quantity)
        ))  # fmt: skip

    def ordered(self) -> dict[str, np.ndarray]:
        columns = [np.concatenate(column) for column in zip(*self.parts, strict=True)]
        order = np.lexsort((columns[1], columns[0]))
        return {name: column[order] for name, column in zip(self.COLUMNS, columns, strict=True)}


def start_sessions(ctx: EventContext, day: int, rng: np.random.Generator) -> Sessions:
    """Who browses today, on which device, from when; people who sign up today get a session to do it in."""
    pop, crm = ctx.pop, ctx.crm
    day_start_s = ctx.window_start_s + day * DAY
    signup_person, signup_s = crm.signups(day_start_s)
    visits = rng.poisson(pop.activity * SESSIONS_PER_PERSON_DAY)
    person = np.concatenate([np.repeat(np.arange(pop.n), visits), signup_person])
    n = len(person)
    is_signup = np.arange(n) >= n - len(signup_person)
    signup_ms = np.zeros(n, dtype=np.int64)
    signup_ms[is_signup] = signup_s * 1000 + rng.integers(0, 1000, size=len(signup_s))
    device = person * MAX_DEVICES + (rng.random(n) * pop.n_devices[person]).astype(np.int64)
    device[is_signup] = person[is_signup] * MAX_DEVICES  # device 0: a browser
    # household guests use their host's browser for some sessions (with their own account)
    shared = pop.shared_device[person]
    device = np.where((shared >= 0) & (rng.random(n) < SHARED_DEVICE_SESSION_SHARE), shared, device)
    channel = np.array([CHANNELS.index(d.channel) for d in vocab.DEVICES])[pop.device_kind[device]]
    start_ms = session_starts(day_start_s * 1000, n, rng)
    record = crm.pick_records(person, rng)
    record[is_signup] = crm.first_record[signup_person]
    safe = np.maximum(record, 0)
    # only existing, not deleted accounts can log in
    can_login = is_signup | ((record >= 0) & ~crm.is_deleted[safe] & (crm.created_s[safe] * 1000 <= start_ms))
    n_browse = np.minimum(rng.geometric(1 / MEAN_BROWSE_EVENTS, size=n), 40)
    return Sessions(person, is_signup, signup_ms, device, channel, start_ms, n_browse, record, can_login)


def browse(ctx: EventContext, s: Sessions, day: int, draft: Draft, rng: np.random.Generator) -> None:
    """Page and product views, searches, videos and newsletter forms, following category preferences."""
    site = ctx.site
    session = np.repeat(np.arange(len(s)), s.n_browse)
    pos = (np.arange(len(session)) - (np.cumsum(s.n_browse) - s.n_browse)[session]).astype(float)
    kind = np.where(
        pos == 0, weighted_pick(FIRST_EVENT, len(session), rng), weighted_pick(LATER_EVENT, len(session), rng)
    )
    category = sample_rows(ctx.cum_category, s.person[session], rng)
    product = np.full(len(session), -1)
    has_product = (kind == PRODUCT_VIEW) | (kind == VIDEO)
    product[has_product] = ctx.catalog.sample(category[has_product], day, rng)
    nth_query = (rng.random(len(session)) * site.query_count[category]).astype(np.int64)
    query = site.query_start[category] + nth_query
    u = rng.random(len(session))
    misc = site.misc_pages[(u * 100).astype(np.int64) % len(site.misc_pages)]
    page = np.select(
        [kind == PAGE_VIEW, has_product, kind == SEARCH, kind == FORM],
        [np.where(u < 0.6, site.category_page[category], np.where(u < 0.85, site.home, misc)),
         site.product_page + product, site.search_page + query, site.newsletter],
    )  # fmt: skip
    props = np.select(
        [kind == SEARCH, kind == VIDEO, kind == FORM],
        [site.prop_query + query, site.prop_video + np.maximum(product, 0), site.prop_form],
    )
    draft.add(session, pos, kind, page, props, product, has_product.astype(np.int64))


def funnel(ctx: EventContext, s: Sessions, draft: Draft, rng: np.random.Generator) -> np.ndarray:
    """Cart, login, checkout and purchase events on top of browsing; returns the login position per session.

    Checkout needs an account, so people without one (or not yet) abandon there.
    """
    site, n_products = ctx.site, ctx.catalog.n
    session, pos, kind, page, _, product, _ = draft.parts[0]
    # adds come right after a product view, some are removed later in the session
    added = np.flatnonzero((kind == PRODUCT_VIEW) & (rng.random(len(kind)) < ADD_TO_CART_P))
    add_session, add_product, add_pos = session[added], product[added], pos[added]
    add_quantity = rng.choice([1, 2, 3], size=len(added), p=[0.8, 0.15, 0.05])
    draft.add(add_session, add_pos + 0.3, ADD_TO_CART, page[added], 0, add_product, add_quantity)
    removed = rng.random(len(added)) < REMOVE_P
    later = np.floor(rng.random(removed.sum()) * (s.n_browse[add_session[removed]] - add_pos[removed]))
    draft.add(add_session[removed], add_pos[removed] + 0.6 + later, REMOVE_FROM_CART, page[added][removed], 0,
              add_product[removed], add_quantity[removed])  # fmt: skip
    kept = ~removed
    cart, cart_line = np.unique(add_session[kept] * n_products + add_product[kept], return_inverse=True)
    cart_quantity = np.bincount(cart_line, weights=add_quantity[kept]).astype(np.int64)
    cart_session, cart_product = cart // n_products, cart % n_products
    cart_lines = np.bincount(cart_session, minlength=len(s))

    checkout = (cart_lines > 0) & (rng.random(len(s)) < CHECKOUT_P)
    purchase = checkout & s.can_login & (rng.random(len(s)) < PURCHASE_P)
    web = s.channel == WEB
    login_at = np.full(len(s), np.inf)
    voluntary = web & s.can_login & ~s.is_signup & (rng.random(len(s)) < LOGIN_P)
    login_at[voluntary] = np.floor(rng.random(voluntary.sum()) * s.n_browse[voluntary]) + 0.5
    at_checkout = web & s.can_login & checkout & ~voluntary & ~s.is_signup
    login_at[at_checkout] = s.n_browse[at_checkout] + 0.2
    login_at[~web & s.can_login] = -1.0  # the apps keep people logged in
    login_at[s.is_signup] = 0.5
    logins = np.flatnonzero(voluntary | at_checkout | s.is_signup)
    signs_up = s.is_signup[logins]
    login_method = site.prop_login + (rng.random(len(logins)) < 0.3)
    draft.add(
        logins, login_at[logins], np.where(signs_up, SIGNUP, LOGIN),
        np.where(signs_up, site.signup, site.login), np.where(signs_up, site.prop_signup, login_method),
    )  # fmt: skip
    checkouts = np.flatnonzero(checkout)
    draft.add(checkouts, s.n_browse[checkouts] + 0.5, CHECKOUT, site.checkout,
              site.prop_cart + np.minimum(cart_lines[checkouts], 20) - 1)  # fmt: skip
    # one server-side purchase event per cart line
    bought = np.flatnonzero(purchase[cart_session])
    payment = site.prop_payment + (rng.random(len(s)) * 3).astype(np.int64)
    draft.add(cart_session[bought], s.n_browse[cart_session[bought]] + 0.9, PURCHASE, -1,
              payment[cart_session[bought]], cart_product[bought], cart_quantity[bought])  # fmt: skip
    return login_at


def timestamps(
    s: Sessions, session: np.ndarray, kind: np.ndarray, day_ms: int, rng: np.random.Generator
) -> np.ndarray:
    """Epoch ms of events ordered within sessions: session start plus random per-type gaps."""
    gap = (rng.lognormal(0.0, 0.8, size=len(kind)) * GAP_S[kind] * 1000).astype(np.int64)
    gap[(kind == PURCHASE) & (np.roll(kind, 1) == PURCHASE)] = 0  # all lines of an order share one instant
    day_end = day_ms + DAY * 1000 - 1
    ts = session_times(s.start_ms, session, gap, day_end)
    # signup sessions move so the signup happens exactly at the customer's created_at
    signups = np.flatnonzero(kind == SIGNUP)
    shift = np.zeros(len(s), dtype=np.int64)
    shift[session[signups]] = s.signup_ms[session[signups]] - ts[signups]
    return np.clip(ts + shift[session], day_ms, day_end)


def simulate_day(ctx: EventContext, day: int, rng: np.random.Generator) -> tuple[DayEvents, OrderBatch]:
    """All events of one day, sorted by time, and the orders their purchases create."""
    s = start_sessions(ctx, day, rng)
    draft = Draft()
    browse(ctx, s, day, draft, rng)
    login_at = funnel(ctx, s, draft, rng)
    ev = draft.ordered()
    session, kind, product = ev["session"], ev["kind"], ev["product"]
    day_ms = (ctx.window_start_s + day * DAY) * 1000
    ts = timestamps(s, session, kind, day_ms, rng)
    person = s.person[session]

    # who and where
    server = kind == PURCHASE
    web = s.channel[session] == WEB
    record = np.maximum(s.record[session], 0)
    user_id = np.where(ev["pos"] >= login_at[session], ctx.crm.customer_id[record], -1)
    tz = np.where(web & (rng.random(len(s)) < 0.1)[session], 0, ctx.tz[person])  # some browsers send UTC
    tz[server] = 0
    n_people, n_records = ctx.pop.n, len(ctx.crm.person)
    odd = rng.random(len(kind)) < 0.15  # indices into EventContext.emails
    email = np.select(
        [(kind == LOGIN) | (kind == SIGNUP), kind == FORM],
        [2 * n_people + record + odd * n_records, person + odd * n_people],
        -1,
    )
    forms = np.flatnonzero(kind == FORM)
    junk = rng.choice(forms, size=_some(len(forms), JUNK_EMAIL_SHARE), replace=False)
    email[junk] = ctx.junk_email + rng.integers(len(JUNK_EMAILS), size=len(junk))
    # a broken client sends the same placeholder cookie for a whole session
    cookie = s.device.copy()
    junk = rng.choice(len(s), size=_some(len(s), JUNK_ANONYMOUS_ID_SHARE), replace=False)
    cookie[junk] = ctx.junk_anonymous_id + (s.channel[junk] != WEB)  # "undefined" on the web, zeros in apps
    first = group_starts(session)
    entry = ctx.site.external[rng.integers(len(ctx.site.external), size=len(kind))]
    entry[(rng.random(len(kind)) < 0.3) | ~web] = -1  # typed in, bookmarks, apps
    referrer = np.where(first, entry, np.roll(ev["page"], 1))  # else the previous page of the session

    # one order per purchasing session; its lines are the purchase events
    purchases = np.flatnonzero(server)
    order_session = np.unique(session[purchases])
    order = np.full(len(kind), -1)
    order[purchases] = np.searchsorted(order_session, session[purchases])
    currency = ctx.currency[person]
    orders = OrderBatch(
        record=s.record[order_session], ordered_s=ts[purchases[group_starts(session[purchases])]] // 1000,
        currency=ctx.currency[s.person[order_session]], item_order=order[purchases],
        item_product=product[purchases], item_quantity=ev["quantity"][purchases],
        item_price=ctx.prices[product[purchases], currency[purchases]],
    )  # fmt: skip

    device_kind = ctx.pop.device_kind[s.device[session]]
    day_events = DayEvents(
        ts_ms=ts, tz=tz, event_type=kind, session=session, device=cookie[session],
        device_kind=np.where(server, -1, device_kind), channel=np.where(server, SERVER, s.channel[session]),
        user_id=user_id, email=email, page=np.where(server, -1, ev["page"]),
        referrer=np.where(server, -1, referrer), product=product,
        currency=np.where(product >= 0, currency, -1), quantity=ev["quantity"], order=order,
        properties=ev["props"],
    )  # fmt: skip
    by_time = np.argsort(ts, kind="stable")
    for f in fields(DayEvents):
        setattr(day_events, f.name, getattr(day_events, f.name)[by_time])
    return day_events, orders


def _some(n: int, share: float) -> int:
    """How many of n things get a rare property: round(n * share), but at least one when share > 0."""
    return 0 if n == 0 or share <= 0 else min(n, max(1, round(n * share)))


def junk_identifiers(ctx: EventContext, day: DayEvents) -> dict[tuple[str, str], int]:
    """(identifier_type, value) -> how many of the day's events carry that junk value."""
    counts = {}
    for kind, column, start, values in (
        ("email", day.email, ctx.junk_email, JUNK_EMAILS),
        ("anonymous_id", day.device, ctx.junk_anonymous_id, JUNK_ANONYMOUS_IDS),
    ):
        found = np.bincount(column[column >= start] - start, minlength=len(values))
        counts |= {(kind, value): int(c) for value, c in zip(values, found, strict=True) if c}
    return counts


def _take(dictionary: pa.Array, index: np.ndarray) -> pa.Array:
    return dictionary.take(pa.array(index, mask=index < 0))


def render_part(
    con: duckdb.DuckDBPyConnection,
    ctx: EventContext,
    day: DayEvents,
    session_ids: pa.Array,
    order_ids: np.ndarray,
    part: slice,
    rng: np.random.Generator,
) -> pa.Array:
    """The JSON lines (newline-terminated) of one slice of a day's events."""
    cols = {f.name: getattr(day, f.name)[part] for f in fields(DayEvents)}
    kinds = vocab.DEVICES
    product = cols["product"]
    has_order = cols["order"] >= 0
    table = pa.table({
        "event_id": ids.hex_ids(rng, len(product), uuid=True),
        "event_type": pa.array(EVENT_TYPES).take(cols["event_type"]),
        "ts_ms": cols["ts_ms"],
        "tz_minutes": TZ_MINUTES[cols["tz"]],
        "tz_suffix": pa.array(TZ_SUFFIXES).take(cols["tz"]),
        "anonymous_id": ctx.anonymous_ids.take(cols["device"]),
        "user_id": pa.array(cols["user_id"], mask=cols["user_id"] < 0),
        "email": _take(ctx.emails, cols["email"]),
        "session_id": session_ids.take(cols["session"]),
        "channel": pa.array(CHANNELS).take(cols["channel"]),
        "device_type": _take(pa.array([d.type for d in kinds]), cols["device_kind"]),
        "device_os": _take(pa.array([d.os for d in kinds]), cols["device_kind"]),
        "device_browser": _take(pa.array([d.browser for d in kinds]), cols["device_kind"]),
        "url": _take(ctx.site.url, cols["page"]),
        "title": _take(ctx.site.title, cols["page"]),
        "referrer": _take(ctx.site.url, cols["referrer"]),
        "product_id": _take(ctx.product_ids, product),
        "price": pa.array(ctx.prices[product, cols["currency"]], mask=product < 0),  # -1: any price, masked
        "currency": _take(pa.array(vocab.CURRENCIES), cols["currency"]),
        "quantity": pa.array(cols["quantity"], mask=product < 0),
        "order_id": pa.array(np.append(order_ids, 0)[cols["order"]], mask=~has_order),  # -1: the sentinel 0
        "properties": ctx.site.properties.take(cols["properties"]),
    })  # fmt: skip
    con.register("part", table)
    try:
        return con.execute(RENDER_SQL).to_arrow_table().column("line")
    finally:
        con.unregister("part")


def write_day(
    landing_dir: Path,
    date_text: str,
    ctx: EventContext,
    day: DayEvents,
    order_ids: np.ndarray,
    rng: np.random.Generator,
    bad_share: float,
    con: duckdb.DuckDBPyConnection,
) -> tuple[list[tuple[str, BadLine]], int]:
    """Write a day's events; returns (relative file, bad line) pairs and the number of files."""
    id_rng, bad_rng = rng.spawn(2)
    session_ids = ids.hex_ids(id_rng, int(day.session.max(initial=-1)) + 1, nbytes=10)
    return write_parts(
        landing_dir, f"events/{date_text}/events-{{:04d}}.jsonl.gz", len(day),
        lambda part: render_part(con, ctx, day, session_ids, order_ids, part, id_rng),
        bad_rng, bad_share, CORRUPTIONS,
    )  # fmt: skip
