"""rfkit.lab.verdicts: chance counts in prose and JSON-ready difference rows."""
import json
import math

import pandas as pd
import pytest

from rfkit.lab.verdicts import chance_note, difference_records
from rfkit.stats import detectable_effect, paired_differences


def table(verdicts):
    return pd.DataFrame({"variant": [f"v{i}" for i in range(len(verdicts))], "delta": 0.1, "ci_low": 0.0,
                         "ci_high": 0.2, "n_seeds": 3, "verdict": verdicts})


def test_chance_note_counts_judged_verdicts_over_tables():
    note = chance_note(table(["better", "within noise", "worse"]), table(["within noise"] * 17 + ["one seed"]))
    assert note == ("2 of these 20 verdicts exceed noise; with 95% intervals about 1.0 would do so by chance "
                    "alone if nothing differed.")
    assert "nothing can be told" in chance_note(table(["one seed"]))
    with pytest.raises(ValueError, match=r"tables\[0\] lacks column\(s\) \['ci_high'"):
        chance_note(table(["better"]).drop(columns="ci_high"))
    with pytest.raises(TypeError, match="DataFrame"):
        chance_note([{"verdict": "better"}])


def test_difference_records_round_trip_through_json_with_missing_intervals():
    runs = pd.DataFrame({"variant": ["a", "b", "a", "b"], "seed": [0, 0, 1, 1], "m": [0.1, 0.3, 0.2, 0.5]})
    both = paired_differences(runs, "m", "a")
    one = paired_differences(runs[runs.seed == 0], "m", "a")
    [row] = difference_records(both, ["variant"])
    assert row["variant"] == "b" and row["delta"] == pytest.approx(0.25) and row["verdict"] == "within noise"
    assert set(row) == {"variant", "baseline_mean", "treatment_mean", "delta", "delta_std", "ci_low", "ci_high",
                        "n_seeds", "detectable", "verdict"}
    assert row["detectable"] == pytest.approx(detectable_effect(row["delta_std"], 2))
    [single] = difference_records(one, ["variant"])
    assert single["ci_low"] is None and single["verdict"] == "one seed" and not math.isnan(single["delta"])
    json.dumps([row, single], allow_nan=False)
    with pytest.raises(ValueError, match="key column"):
        difference_records(both, ["bucket"])
