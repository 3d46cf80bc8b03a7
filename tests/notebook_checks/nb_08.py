"""Checks of notebooks/08_parameters.ipynb's quick run."""
import math
from typing import Any

import pandas as pd
import pytest

from rfkit.lab.memory import CAP_ROWS, CAPPED_STEP, CASES
from rfkit.lab.parameters import INFERENCE, PARAMETERS
from rfkit.stats import paired_differences

FAQ_ITEMS = ("q3", "q4", "q5", "train_steps", "memory")
NDCG = ("valid_ndcg@20", "test_ndcg@20")


def check_records(rows: list[dict[str, Any]], n_seeds: int) -> pd.DataFrame:
    """Every record is one (parameter, value, seed) with NDCG in [0, 1], or a failure with its
    status and reason and no metrics; every setting has every seed and each parameter one kit value."""
    for row in rows:
        if row["status"] == "ok":
            assert row["reason"] is None and all(0.0 <= row[m] <= 1.0 for m in NDCG), row
        else:
            assert isinstance(row["reason"], str) and row["reason"], row
            assert all(row[m] is None for m in NDCG), row
    table = pd.DataFrame(rows)
    assert not table.duplicated(["parameter", "value", "seed"]).any()
    assert (table.groupby(["parameter", "value"])["seed"].nunique() == n_seeds).all()
    kits = table[table["is_kit"]].groupby("parameter")["value"].nunique()
    assert (kits == 1).all() and set(kits.index) == set(table["parameter"])
    assert (table.loc[table["is_kit"], "variant"] == "example").all()
    return table


def check_deltas(effects: pd.DataFrame, recorded: list[dict[str, Any]], metric: str) -> None:
    """The recorded paired differences are what rfkit.stats computes from the recorded per-seed rows."""
    by_key = {(row["parameter"], row["value"]): row for row in recorded}
    expected = 0
    for parameter, rows in effects.groupby("parameter"):
        kit = rows.loc[rows["is_kit"], "value"].iloc[0]
        ok = rows.dropna(subset=[metric])
        for value in [v for v in dict.fromkeys(ok["value"]) if v != kit]:
            again = paired_differences(ok, metric, kit, [value], variant="value").iloc[0]
            row = by_key[(parameter, value)]
            expected += 1
            assert row["verdict"] == again["verdict"] and row["n_seeds"] == again["n_seeds"]
            for field in ("delta", "ci_low", "ci_high"):
                if row[field] is None:
                    assert math.isnan(again[field])
                else:
                    assert row[field] == pytest.approx(again[field], abs=1e-12)
    assert len(recorded) == expected


def check_faq(faq: dict[str, Any], effects: pd.DataFrame, p: dict[str, Any]) -> None:
    """Every FAQ item has a computed conclusion, and its numbers follow from the recorded rows."""
    for item in FAQ_ITEMS:
        assert faq[item]["conclusions"] and all(isinstance(s, str) and s for s in faq[item]["conclusions"]), item
    runs = pd.DataFrame(faq["q3"]["runs"])
    for case, counts in faq["q3"]["cases"].items():
        rows = runs[runs["variant"] == case]
        assert counts == {"diverged": int((rows["status"] != "ok").sum()), "runs": len(rows)}
    failed = runs[runs["status"] != "ok"]
    assert len(failed) and failed["reason"].map(lambda r: isinstance(r, str) and r != "").all()
    assert faq["q3"]["remedies"] == {case: faq["q3"]["cases"][case]["diverged"] == 0 for case in faq["q3"]["remedies"]}

    q4 = faq["q4"]
    assert q4["chance"] == pytest.approx(math.log(q4["contrast_rows"]))
    example = effects[(effects["variant"] == "example") & (effects["parameter"] == PARAMETERS[0])]
    assert q4["kit_cl_loss"] == pytest.approx(example["cl_loss"].mean())
    assert q4["kit_share_of_chance"] == pytest.approx(q4["kit_cl_loss"] / q4["chance"])
    assert q4["reproduction_gap"] < 1e-9  # the retrained kit config reproduces the sweep's run
    # losses are read against what a zero velocity scores on the same rows, not against ln(n) alone
    assert q4["kit_cl_loss_zero_velocity"] == pytest.approx(example["cl_loss_zero"].mean())
    assert 0 < q4["kit_cl_loss_zero_velocity"] < q4["chance"]  # x_t holds t * x1: better than a guess at v = 0
    assert q4["kit_cl_below_zero_velocity"] == (q4["kit_cl_loss"] < q4["kit_cl_loss_zero_velocity"])
    # the runs with a contrastive term (contrast_weight 0 switches it off, and the statement leaves them out)
    ok = effects[(effects["status"] == "ok") & effects["cl_loss"].notna() & (effects["contrast_weight"] > 0)]
    ok = ok.drop_duplicates(["variant", "seed"])
    fell, runs = q4["rf_loss_below_zero_velocity"]
    assert fell == int((ok["rf_loss"] < ok["rf_loss_zero"]).sum()) and runs <= len(ok)

    rescored = pd.DataFrame(faq["q5"]["rescored"])
    for row in faq["q5"]["deltas"]:
        again = paired_differences(rescored, "test_ndcg@20", 0.0, [row["inference_ratio"]],
                                   variant="inference_ratio").iloc[0]
        assert row["verdict"] == again["verdict"] and row["delta"] == pytest.approx(again["delta"], abs=1e-12)
    assert faq["q5"]["verdict"] in ("better", "worse", "within noise", "one seed")

    assert isinstance(faq["train_steps"]["measured"], bool)
    if faq["train_steps"]["measured"]:
        assert faq["train_steps"]["test_ndcg@20"]["n_seeds"] == len(p["SEEDS"])

    memory = faq["memory"]
    assert memory["rows"] == (min(p["MEMORY_ROWS"], 20_000) if p["QUICK"] else p["MEMORY_ROWS"])
    cases = set(CASES) - ({CAPPED_STEP} if memory["rows"] <= CAP_ROWS else set())
    assert set(memory["peak_mib"]) == cases and all(v > 0 for v in memory["peak_mib"].values())


def check(payload: dict[str, Any]) -> None:
    p, r = payload["parameters"], payload["results"]
    n_seeds = len(p["SEEDS"])
    effects = check_records(r["parameter_effects"], n_seeds)
    assert len(PARAMETERS) == 14 and set(effects["parameter"]) == set(PARAMETERS)
    assert (effects.groupby("parameter")["value"].nunique() >= 2).all()
    # Inference ratios re-score the example's models: at the kit's ratio they are the example's own numbers.
    kit_ratio = effects[(effects["parameter"] == INFERENCE) & effects["is_kit"]].set_index("seed")
    example = effects[(effects["parameter"] == PARAMETERS[0]) & effects["is_kit"]].set_index("seed")
    for metric in NDCG:
        assert (kit_ratio[metric] - example[metric]).abs().max() < 1e-12
        check_deltas(effects, r["parameter_deltas"][metric.split("_")[0]], metric)

    real = check_records(r["real"]["effects"], n_seeds)
    candidates = {d["parameter"] for d in r["parameter_deltas"]["valid"]} - {INFERENCE}
    assert len(r["real"]["chosen"]) == min(p["PARAMS_ON_REAL"], len(candidates))
    assert set(real["parameter"]) == {INFERENCE} | {c[0] for c in r["real"]["chosen"]}
    check_deltas(real, r["real"]["deltas"], "test_ndcg@20")
    assert len(r["real"]["conclusions"]) == len(r["real"]["deltas"])

    check_faq(r["faq"], effects, p)
    for item in FAQ_ITEMS:
        assert set(r["faq"][item]["conclusions"]) <= set(r["conclusions"])
    assert set(r["sweep_conclusions"]) <= set(r["conclusions"])
    assert {"parameter_effects", "real_parameter_effects", "cl_loss_vs_chance"} <= set(payload["figures"])
