"""rfkit.lab.primer: the primer's conclusions say what its numbers show."""
import pytest
import torch

from rfkit.lab.primer import primer_conclusions, transport_costs

FLOOR = 0.02
COST = {"independent": 4.0, "1-RF": 2.5, "2-RF": 2.4}


def distances(one_step_1rf: float, one_step_2rf: float) -> dict[str, dict[int, float]]:
    return {"1-RF": {1: one_step_1rf, 2: 0.30, 5: 0.08, 20: 0.04, 50: 0.03},
            "2-RF": {1: one_step_2rf, 2: 0.05, 5: 0.04, 20: 0.035, 50: 0.032}}


def test_reflow_that_straightens_and_helps_one_step():
    conclusions, flags = primer_conclusions({"1-RF": 0.8, "2-RF": 0.1}, distances(0.9, 0.07), FLOOR, COST, 50)
    assert flags == {"two_rf_is_straighter": True, "one_step_improved": True,
                     "steps_1rf_to_match_2rf_one_step": 20, "transport_cost_lowered": True}
    assert conclusions[0].startswith("2-RF is straighter than 1-RF: S = 0.1000 vs 0.8000")
    assert "1-step sampling improved with reflow: sliced Wasserstein 0.0700 (2-RF) vs 0.9000 (1-RF)" in conclusions[1]
    assert "1-RF first matches 2-RF's 1-step quality at 20 Euler steps." in conclusions[2]
    assert "each rectification lowered it" in conclusions[3]
    assert conclusions[4].endswith("sliced Wasserstein 0.0300 (1-RF) vs 0.0320 (2-RF).")


def test_reflow_that_fails_is_said_to_fail():
    cost = {"independent": 4.0, "1-RF": 2.5, "2-RF": 2.7}
    conclusions, flags = primer_conclusions({"1-RF": 0.2, "2-RF": 0.5}, distances(0.9, 0.95), FLOOR, cost, 50)
    assert not flags["two_rf_is_straighter"] and not flags["one_step_improved"]
    assert not flags["transport_cost_lowered"]
    assert flags["steps_1rf_to_match_2rf_one_step"] == 1  # 1-RF's own 1 step already beats 2-RF's
    assert conclusions[0].startswith("2-RF is NOT straighter than 1-RF: S = 0.5000 vs 0.2000")
    assert "did NOT improve" in conclusions[1] and "NOT lowered" in conclusions[3]


def test_no_step_count_matches_one_step_2rf():
    conclusions, flags = primer_conclusions({"1-RF": 0.8, "2-RF": 0.1}, distances(0.9, 0.01), FLOOR, COST, 50)
    assert flags["steps_1rf_to_match_2rf_one_step"] is None
    assert "does not reach 2-RF's 1-step quality within 50 Euler steps" in conclusions[2]


def test_missing_numbers_are_named():
    with pytest.raises(ValueError, match="straightness lacks"):
        primer_conclusions({"1-RF": 0.8}, distances(0.9, 0.07), FLOOR, COST, 50)
    with pytest.raises(ValueError, match=r"distances\['1-RF'\] lacks \[100\]"):
        primer_conclusions({"1-RF": 0.8, "2-RF": 0.1}, distances(0.9, 0.07), FLOOR, COST, 100)
    with pytest.raises(ValueError, match="transport_cost lacks"):
        primer_conclusions({"1-RF": 0.8, "2-RF": 0.1}, distances(0.9, 0.07), FLOOR, {"1-RF": 1.0}, 50)


def test_transport_costs_are_mean_squared_distances():
    start = torch.zeros(4, 2)
    end = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 4.0], [0.0, 0.0]])
    assert transport_costs({"a": (start, end)}) == {"a": pytest.approx((1 + 4 + 25 + 0) / 4)}
    with pytest.raises(ValueError, match="coupling 'a'"):
        transport_costs({"a": (start, end[:2])})
