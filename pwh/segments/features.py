"""The person features segment rules may use: the columns of `marts.person_features` (one row per person).

Windows end with the run date: `_1d` is the run date itself, `_7d` the 7 days ending with it, and so on.
Counts are 0, never null, for people with no activity; a feature that has no value for someone
(`days_since_last_purchase` for a person who never bought) is null, and rules treat a comparison with
it as false. The dbt model is tested to have exactly these columns.
"""

from __future__ import annotations

THEMES = ("music", "sport", "cooking", "travel", "parenting", "tech", "fashion", "finance")

# (name, type, description): one list so that a feature cannot lose its type or its description
_FEATURES: list[tuple[str, str, str]] = [
    ("person_id", "text", "The person's id in pwh (the golden profile id)."),
    ("is_customer", "boolean", "Has a customer record in the CRM."),
    ("has_email", "boolean", "Has a usable email address."),
    ("marketing_opt_in", "boolean", "Agreed to receive marketing."),
    ("age", "number", "Age in years on the run date."),
    ("gender", "text", "Gender as recorded in the CRM."),
    ("country", "text", "Country code (ISO 3166-1 alpha-2)."),
    ("city", "text", "City name."),
    ("page_views_1d", "number", "Pages viewed on the run date."),
    ("page_views_7d", "number", "Pages viewed in the last 7 days."),
    ("page_views_30d", "number", "Pages viewed in the last 30 days."),
    ("product_views_1d", "number", "Product pages viewed on the run date."),
    ("product_views_7d", "number", "Product pages viewed in the last 7 days."),
    ("product_views_30d", "number", "Product pages viewed in the last 30 days."),
    ("add_to_carts_1d", "number", "Products added to the cart on the run date."),
    ("add_to_carts_7d", "number", "Products added to the cart in the last 7 days."),
    ("add_to_carts_30d", "number", "Products added to the cart in the last 30 days."),
    ("purchases_7d", "number", "Orders placed in the last 7 days."),
    ("purchases_30d", "number", "Orders placed in the last 30 days."),
    ("purchases_90d", "number", "Orders placed in the last 90 days."),
    ("purchases_total", "number", "Orders placed ever."),
    ("sessions_7d", "number", "Visits (sessions) in the last 7 days."),
    ("sessions_30d", "number", "Visits (sessions) in the last 30 days."),
    ("active_days_7d", "number", "Days with any activity in the last 7 days."),
    ("active_days_30d", "number", "Days with any activity in the last 30 days."),
    ("revenue_30d", "number", "Revenue from orders in the last 30 days, in the reporting currency."),
    ("revenue_90d", "number", "Revenue from orders in the last 90 days, in the reporting currency."),
    ("revenue_total", "number", "Revenue from all orders ever, in the reporting currency."),
    (
        "average_order_value",
        "number",
        "Average revenue per order, over all orders, in the reporting currency.",
    ),
    (
        "days_since_first_seen",
        "number",
        "Days since pwh first saw the person (0 = first seen on the run date; null when first seen after it).",
    ),
    ("days_since_last_visit", "number", "Days from the last visit to the run date; null if never visited."),
    ("days_since_last_purchase", "number", "Days from the last order to the run date; null if never bought."),
    (
        "hours_since_last_cart",
        "number",
        "Hours from the last add-to-cart to the end of the run date; null if never carted.",
    ),
    ("purchased_since_last_cart", "boolean", "Placed an order after the last add-to-cart."),
    (
        "recency_score",
        "number",
        "1..5, 5 = bought most recently (quintile among buyers); null for non-buyers.",
    ),
    ("frequency_score", "number", "1..5, 5 = buys most often (quintile among buyers); null for non-buyers."),
    ("monetary_score", "number", "1..5, 5 = spends most (quintile among buyers); null for non-buyers."),
]
for _theme in THEMES:
    _FEATURES += [
        (
            f"interest_{_theme}",
            "number",
            f"Interest in {_theme}, 0..1: time-decayed share of the person's themed page views, each theme weighed against its share of everyone's views (int_person_theme_interests).",
        ),
        (
            f"interest_active_days_{_theme}_30d",
            "number",
            f"Days in the last 30 with a view of a {_theme} page.",
        ),
    ]

DEFAULT_FEATURES: dict[str, str] = {name: type_ for name, type_, _ in _FEATURES}
FEATURE_DESCRIPTIONS: dict[str, str] = {name: description for name, _, description in _FEATURES}
