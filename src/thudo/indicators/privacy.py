"""Small-count suppression for everything published (open data, monthly snapshots).

No published cell describes fewer than `THRESHOLD` people: a cell counting 1 to 4 people
is withheld (primary suppression). When a group of cells adds up to a published total and
exactly one cell of it is withheld, the total minus the others would reveal it, so the
smallest other non-zero cell is withheld too (secondary suppression). Zero is published.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from typing import Any

THRESHOLD = 5


def too_small(count: float | None) -> bool:
    return count is not None and 0 < count < THRESHOLD


def suppress_group(cells: Sequence[MutableMapping[str, Any]], fields: Sequence[str]) -> int:
    """Withhold, in place, the cells of one group (rows summing to a published total):
    every field of a withheld cell becomes None and `suppressed` True. Returns how many."""
    withheld = [c for c in cells if any(too_small(c.get(f)) for f in fields)]
    if len(withheld) == 1:
        others = [
            c for c in cells
            if all(c is not w for w in withheld) and any((c.get(f) or 0) > 0 for f in fields)
        ]  # fmt: skip
        if others:
            withheld.append(min(others, key=lambda c: max(c.get(f) or 0 for f in fields)))
    for c in withheld:
        for f in fields:
            c[f] = None
        c["suppressed"] = True
    for c in cells:
        c.setdefault("suppressed", False)
    return len(withheld)
