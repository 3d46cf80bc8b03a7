"""Notebook 00 (rectified flow primer): transport costs and the conclusions drawn from its numbers.

The primer trains one 1-RF and one reflowed 2-RF on a 2-D toy target (`rfkit.lab.toy`) and
measures straightness, transport cost and sample quality by number of Euler steps. One training
run each, no seeds compared: a demonstration of large effects, not a measurement of small ones.
`primer_conclusions` turns those numbers into the sentences the notebook prints and the flags it
records, so the sentences stay true for any parameters and are tested without training anything.
"""
from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor

from rfkit.lab.verdicts import Findings

FLOWS = ("1-RF", "2-RF")


def transport_costs(couplings: Mapping[str, tuple[Tensor, Tensor]]) -> dict[str, float]:
    """E||z1 - z0||^2 of each named coupling, given as (start rows, end rows)."""
    costs = {}
    for name, (start, end) in couplings.items():
        if start.shape != end.shape:
            raise ValueError(f"coupling {name!r}: start {tuple(start.shape)} and end {tuple(end.shape)} differ")
        costs[name] = float(((end - start) ** 2).sum(dim=1).mean())
    return costs


def _require(mapping: Mapping, keys, name: str) -> None:
    missing = [k for k in keys if k not in mapping]
    if missing:
        raise ValueError(f"{name} lacks {missing}")


def primer_conclusions(straightness: Mapping[str, float], distances: Mapping[str, Mapping[int, float]],
                       distance_floor: float, transport_cost: Mapping[str, float],
                       ode_steps: int) -> Findings:
    """The primer's conclusions and flags from its numbers.

    `straightness` and `distances` are keyed by "1-RF" and "2-RF" (distances: sliced Wasserstein
    to held-out target by number of Euler steps, which must include 1 and `ode_steps`);
    `transport_cost` by "independent", "1-RF" and "2-RF". Flags: ``two_rf_is_straighter``,
    ``one_step_improved``, ``steps_1rf_to_match_2rf_one_step`` (None if no step count tried does)
    and ``transport_cost_lowered`` (independent > 1-RF >= 2-RF).
    """
    _require(straightness, FLOWS, "straightness")
    _require(distances, FLOWS, "distances")
    _require(transport_cost, ("independent", *FLOWS), "transport_cost")
    d1, d2 = distances["1-RF"], distances["2-RF"]
    for name, curve in distances.items():
        _require(curve, (1, ode_steps), f"distances[{name!r}]")
    s1, s2 = straightness["1-RF"], straightness["2-RF"]
    straighter, one_step_improved = s2 < s1, d2[1] < d1[1]
    matching = [n for n in sorted(d1) if d1[n] <= d2[1]]
    cost = transport_cost
    lowered = cost["independent"] > cost["1-RF"] >= cost["2-RF"]
    if straighter:
        ratio = f"{s1 / s2:.1f}x lower" if s2 > 0 else "2-RF exactly straight"
    else:
        ratio = f"{s2 / s1:.1f}x higher" if s1 > 0 else "both exactly straight"
    conclusions = [
        f"2-RF is {'straighter' if straighter else 'NOT straighter'} than 1-RF: S = {s2:.4f} vs {s1:.4f} ({ratio}).",
        f"1-step sampling {'improved' if one_step_improved else 'did NOT improve'} with reflow: "
        f"sliced Wasserstein {d2[1]:.4f} (2-RF) vs {d1[1]:.4f} (1-RF); target vs. target = {distance_floor:.4f}.",
        (f"Of the step counts tried {sorted(d1)}, 1-RF first matches 2-RF's 1-step quality at {matching[0]} "
         f"Euler step{'s' * (matching[0] > 1)}." if matching else
         f"1-RF does not reach 2-RF's 1-step quality within {max(d1)} Euler steps."),
        f"Transport cost E||z1 - z0||^2: independent pairs {cost['independent']:.3f}, 1-RF {cost['1-RF']:.3f}, "
        f"2-RF {cost['2-RF']:.3f}: "
        + ("each rectification lowered it (or kept it)." if lowered else
           "NOT lowered at each rectification (the theorem is about exact flows; these are learned)."),
        f"On the fine grid ({ode_steps} Euler steps), the ODE 2-RF was distilled from: sliced Wasserstein "
        f"{d1[ode_steps]:.4f} (1-RF) vs {d2[ode_steps]:.4f} (2-RF).",
    ]
    flags = {"two_rf_is_straighter": straighter, "one_step_improved": one_step_improved,
             "steps_1rf_to_match_2rf_one_step": matching[0] if matching else None,
             "transport_cost_lowered": lowered}
    return Findings(conclusions, flags)
