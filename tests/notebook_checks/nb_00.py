"""Checks of notebooks/00_rectified_flow_primer.ipynb's quick run."""
from typing import Any


def check(payload: dict[str, Any]) -> None:
    """Reflow straightens the flow: 2-RF is straighter and better at one step than 1-RF."""
    r = payload["results"]
    assert r["straightness_2rf"] < 0.5 * r["straightness_1rf"]
    assert r["two_rf_is_straighter"] and r["one_step_improved"]
    assert r["distances_2rf"]["1"] < r["distances_1rf"]["1"]
    assert r["distances_1rf"]["1"] > r["distances_1rf"][str(payload["parameters"]["ODE_STEPS"])]
    cost = r["transport_cost"]
    assert cost["2-RF"] <= cost["1-RF"] * 1.05 < cost["independent"]
    assert len(payload["figures"]) >= 3
