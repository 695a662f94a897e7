"""The identity graph: identifiers are nodes, "seen together" is an edge, people are guarded components.

Accounts (CRM customer records and logged-in user ids) are joined only by strong evidence: an edge
between two account identifiers (a dedupe cluster, a user id that is a customer id). Emails and
cookies (weak identifiers) then attach to accounts through the events and records they were seen in,
but weak evidence never merges two accounts: a weak component (emails and cookies linked to each other)
that touches more than `max_accounts` accounts is ambiguous, such as a family iPad several people log
in on, or an address a household shares. In an ambiguous component
- an identifier linked directly to more than `max_accounts` accounts is SHARED: it stays a person of
  its own and links no one;
- an identifier linked directly to 1..max_accounts accounts joins them;
- the rest (linked to no account, e.g. a cookie that only saw a shared email) join an account only
  when everything they are linked to agrees on one; otherwise they are AMBIGUOUS and stay apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

ACCOUNT_KINDS = ("customer_id", "user_id")
# which identifier names a person: accounts before cookies before emails (models_ml/identities.py)
CANONICAL_ORDER = (*ACCOUNT_KINDS, "anonymous_id", "email")

# guard values of Stitching.guard
NONE, SHARED, AMBIGUOUS = 0, 1, 2
GUARD_NAMES = (None, "shared", "ambiguous")


@dataclass(frozen=True)
class Stitching:
    person: np.ndarray  # component label per node (0..people-1)
    guard: np.ndarray  # NONE | SHARED | AMBIGUOUS per node

    @property
    def people(self) -> int:
        return int(self.person.max()) + 1 if len(self.person) else 0


def components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected-component label of each of n nodes over the undirected edges (a[i], b[i])."""
    graph = coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _distinct_pairs(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(x) == 0:
        return x, y
    pairs = np.unique(np.stack([x, y]), axis=1)
    return pairs[0], pairs[1]


def stitch(is_account: np.ndarray, a: np.ndarray, b: np.ndarray, max_accounts: int = 1) -> Stitching:
    """People over n = len(is_account) nodes and the edges (a[i], b[i]) between them (see module doc)."""
    if max_accounts < 1:
        raise ValueError("max_accounts must be at least 1")
    n = len(is_account)
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    a_account, b_account = is_account[a], is_account[b]
    strong = a_account & b_account
    weak_weak = ~a_account & ~b_account
    mixed = a_account ^ b_account

    account = components(n, a[strong], b[strong])  # weak nodes are singletons here
    # weak node -> account component, once per pair
    link_node, link_account = _distinct_pairs(
        np.where(a_account, b, a)[mixed], account[np.where(a_account, a, b)[mixed]]
    )
    weak = components(n, a[weak_weak], b[weak_weak])
    comp, _ = _distinct_pairs(weak[link_node], link_account)
    accounts_of_comp = np.bincount(comp, minlength=n)
    accounts_of_node = np.bincount(link_node, minlength=n)

    clear = accounts_of_comp[weak] <= max_accounts  # per node: its weak component is unambiguous
    direct = (accounts_of_node >= 1) & (accounts_of_node <= max_accounts)
    shared = ~is_account & ~clear & (accounts_of_node > max_accounts)
    loose = ~is_account & ~clear & (accounts_of_node == 0)  # in an ambiguous component, linked to no account

    # a representative node per account component, to attach weak nodes to
    representative = np.full(n, -1)
    representative[account[np.flatnonzero(is_account)]] = np.flatnonzero(is_account)

    union_a, union_b = [a[strong]], [b[strong]]
    # unambiguous weak components keep all their links
    keep = weak_weak & clear[a]
    union_a.append(a[keep]), union_b.append(b[keep])
    attach = clear[link_node] | direct[link_node]
    union_a.append(link_node[attach]), union_b.append(representative[link_account[attach]])

    # loose nodes: group them, then join the one account their resolved neighbours agree on
    loose_edges = weak_weak & loose[a] & loose[b]
    group = components(n, a[loose_edges], b[loose_edges])
    union_a.append(a[loose_edges]), union_b.append(b[loose_edges])
    to_resolved = weak_weak & (loose[a] ^ loose[b]) & (direct[a] | direct[b])
    loose_end = np.where(loose[a], a, b)[to_resolved]
    resolved_end = np.where(loose[a], b, a)[to_resolved]
    # the accounts each resolved neighbour joined
    joined = np.isin(link_node, resolved_end)
    neighbour_of = {}
    for node, acc in zip(link_node[joined], link_account[joined], strict=True):
        neighbour_of.setdefault(int(node), []).append(int(acc))
    candidates: dict[int, set[int]] = {}
    for loose_node, resolved in zip(loose_end, resolved_end, strict=True):
        candidates.setdefault(int(group[loose_node]), set()).update(neighbour_of[int(resolved)])
    ambiguous = loose.copy()
    for grp, accs in candidates.items():
        if len(accs) == 1:
            members = np.flatnonzero(loose & (group == grp))
            ambiguous[members] = False
            union_a.append(members[:1]), union_b.append(representative[[next(iter(accs))]])

    person = components(n, np.concatenate(union_a), np.concatenate(union_b))
    guard = np.full(n, NONE, np.int8)
    guard[shared] = SHARED
    guard[ambiguous] = AMBIGUOUS
    return Stitching(person, guard)
