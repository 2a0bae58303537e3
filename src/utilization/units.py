"""Unit rounding rules: minutes of service to whole billable units."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

MIDPOINT = "midpoint"
COMPLETE = "complete"
NEVER_ZERO = "never_zero"
PER_VISIT = "per_visit"
RULES: tuple[str, ...] = (MIDPOINT, COMPLETE, NEVER_ZERO, PER_VISIT)


def units_for(minutes: int, unit_minutes: int = 15, rule: str = MIDPOINT) -> int:
    """Units for one visit of `minutes` under `rule` with units of `unit_minutes` minutes."""
    result = units_array(np.array([minutes]), np.array([unit_minutes]), np.array([rule]))
    return int(result[0])


def units_array(
    minutes: npt.ArrayLike, unit_minutes: npt.ArrayLike, rule: npt.ArrayLike
) -> npt.NDArray[np.int64]:
    """Units per visit; arguments broadcast (one rule and unit length per visit or for all).

    Rules (data contract §3): `midpoint` counts a unit once more than half of it is reached,
    `(minutes + ceil(U/2) - 1) // U`; `complete` counts whole units only, `minutes // U`;
    `never_zero` is `midpoint` but at least one unit for a visit of 1 minute or more;
    `per_visit` is one unit per visit, and a unit length of 0 implies it.
    A visit of 0 minutes is 0 units under every rule except `per_visit`.
    """
    m = np.asarray(minutes, dtype=np.int64)
    u = np.asarray(unit_minutes, dtype=np.int64)
    r = np.asarray(rule, dtype=object)
    # Rule names are compared before broadcasting: one comparison per rule given, not per visit;
    # and only the rules given are computed.
    shape = np.broadcast_shapes(m.shape, u.shape, r.shape)
    unknown = ~np.isin(r, RULES)
    if unknown.any():
        msg = f"unknown rounding rule(s) {sorted(set(r[unknown].tolist()))}; known: {list(RULES)}"
        raise ValueError(msg)
    if (m < 0).any():
        msg = "minutes must not be negative"
        raise ValueError(msg)
    is_complete, is_never_zero = r == COMPLETE, r == NEVER_ZERO
    per_visit = (r == PER_VISIT) | (u == 0)
    safe_u = np.where(u == 0, 1, u)
    half = (safe_u + 1) // 2  # ceil(U / 2)
    out = (m + half - 1) // safe_u  # midpoint
    if is_never_zero.any():
        out = np.where(is_never_zero, np.where(m >= 1, np.maximum(out, 1), 0), out)
    if is_complete.any():
        out = np.where(is_complete, m // safe_u, out)
    if per_visit.any():
        out = np.where(per_visit, 1, out)
    if out.shape != shape:
        out = np.broadcast_to(out, shape).copy()
    result: npt.NDArray[np.int64] = out.astype(np.int64, copy=False)
    return result
