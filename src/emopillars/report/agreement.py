"""Krippendorff's alpha for nominal and ordinal data.

Follows Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability":
values are paired within each unit (each ordered pair of values from different
coders, weighted ``1 / (m_u - 1)`` where ``m_u`` is the number of values the
unit received) into a coincidence matrix ``o``; with ``n_c`` its margins and
``n`` their sum,

    alpha = 1 - (n - 1) * sum_ck o_ck d2(c, k) / sum_ck n_c n_k d2(c, k)

where the metric ``d2`` is ``0/1`` for nominal data and, for ordinal data,
``(sum_{g=c..k} n_g - (n_c + n_k) / 2) ** 2`` over the ranks of the values.
Units with fewer than two values carry no information and are skipped.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Hashable, Iterable, Literal, Mapping, Optional, Sequence

Level = Literal["nominal", "ordinal"]


def coincidences(units: Mapping[Hashable, Sequence]) -> dict[tuple, float]:
    """Coincidence matrix ``{(c, k): o_ck}`` of the pairable values (``None`` is missing)."""
    o: dict[tuple, float] = defaultdict(float)
    for values in units.values():
        vals = [v for v in values if v is not None]
        m = len(vals)
        if m < 2:
            continue
        counts = Counter(vals)
        for c, nc in counts.items():
            for k, nk in counts.items():
                pairs = nc * (nc - 1) if c == k else nc * nk
                o[(c, k)] += pairs / (m - 1)
    return dict(o)


def krippendorff_alpha(units: Mapping[Hashable, Sequence], level: Level = "nominal",
                       order: Optional[Sequence] = None) -> Optional[float]:
    """Alpha of ``units`` (``{unit: [value of each coder, None where missing]}``).

    ``order`` lists the values from lowest to highest for ``level="ordinal"``
    (default: sorted values). Returns ``None`` when alpha is undefined: fewer
    than two pairable values, or a single value used throughout (no variation
    to agree on).
    """
    o = coincidences(units)
    if not o:
        return None
    n_c: Counter = Counter()
    for (c, _), v in o.items():
        n_c[c] += v
    n = sum(n_c.values())
    values = list(n_c)
    if level == "nominal":
        def d2(c, k):
            return 0.0 if c == k else 1.0
    elif level == "ordinal":
        ranked = list(order) if order is not None else sorted(values)
        missing = set(values) - set(ranked)
        if missing:
            raise ValueError(f"ordinal alpha: values {sorted(map(str, missing))} are not in the order {list(ranked)}")
        rank = {v: i for i, v in enumerate(ranked)}
        margins = [n_c.get(v, 0.0) for v in ranked]

        def d2(c, k):
            lo, hi = sorted((rank[c], rank[k]))
            return (sum(margins[lo:hi + 1]) - (margins[lo] + margins[hi]) / 2) ** 2
    else:
        raise ValueError(f"unknown level of measurement {level!r}; expected 'nominal' or 'ordinal'")
    observed = sum(v * d2(c, k) for (c, k), v in o.items())
    expected = sum(n_c[c] * n_c[k] * d2(c, k) for c in values for k in values)
    if expected == 0:
        return None
    return 1.0 - (n - 1) * observed / expected


def units_from_ratings(ratings: Iterable[tuple[Hashable, Hashable, object]]) -> dict[Hashable, list]:
    """``{unit: [values]}`` from ``(unit, coder, value)`` triples (one value per coder and unit)."""
    by_unit: dict[Hashable, dict] = defaultdict(dict)
    for unit, coder, value in ratings:
        if value is not None:
            by_unit[unit][coder] = value
    return {u: list(v.values()) for u, v in by_unit.items()}
