"""Identity stitching: which identifiers (customer ids, user ids, emails, cookies) are one person.

`graph.stitch` is the pure algorithm (guarded connected components); `models_ml.identities` is the
nightly step around it (warehouse in, `ml.identity_map` and `ml.person_merges` out) and the evaluation
against a generated landing zone's truth.
"""

from models_ml.identity.graph import (
    ACCOUNT_KINDS,
    AMBIGUOUS,
    CANONICAL_ORDER,
    GUARD_NAMES,
    SHARED,
    Stitching,
    components,
    stitch,
)

__all__ = [
    "ACCOUNT_KINDS",
    "AMBIGUOUS",
    "CANONICAL_ORDER",
    "GUARD_NAMES",
    "SHARED",
    "Stitching",
    "components",
    "stitch",
]
