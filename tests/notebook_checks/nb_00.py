"""Checks of notebooks/00_rectified_flow_primer.ipynb's quick run."""
from typing import Any

from rfkit.lab.primer import primer_conclusions


def check(payload: dict[str, Any]) -> None:
    """Reflow straightens the flow: 2-RF is straighter and better at one step than 1-RF; the
    recorded conclusions and flags are those the recorded numbers give."""
    r = payload["results"]
    assert r["straightness_2rf"] < 0.5 * r["straightness_1rf"]
    assert r["two_rf_is_straighter"] and r["one_step_improved"]
    assert r["distances_2rf"]["1"] < r["distances_1rf"]["1"]
    assert r["distances_1rf"]["1"] > r["distances_1rf"][str(payload["parameters"]["ODE_STEPS"])]
    cost = r["transport_cost"]
    assert cost["2-RF"] <= cost["1-RF"] * 1.05 < cost["independent"]
    distances = {name: {int(n): d for n, d in r[f"distances_{key}"].items()}
                 for name, key in (("1-RF", "1rf"), ("2-RF", "2rf"))}
    conclusions, flags = primer_conclusions({"1-RF": r["straightness_1rf"], "2-RF": r["straightness_2rf"]},
                                            distances, r["distance_floor"], cost, payload["parameters"]["ODE_STEPS"])
    assert r["conclusions"] == conclusions
    assert {k: r[k] for k in flags} == flags
    assert len(payload["figures"]) >= 3
