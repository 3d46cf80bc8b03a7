"""rfkit.lab.verdicts: chance counts in prose and JSON-ready difference rows."""
import json
import math

import pandas as pd
import pytest

from rfkit.lab.verdicts import (Findings, chance_clause, chance_note, detectable_clause, difference_records,
                                difference_row, phrase)
from rfkit.stats import detectable_effect, paired_differences


def table(verdicts):
    return pd.DataFrame({"variant": [f"v{i}" for i in range(len(verdicts))], "delta": 0.1, "ci_low": 0.0,
                         "ci_high": 0.2, "n_seeds": 3, "verdict": verdicts})


def test_chance_note_counts_judged_verdicts_over_tables():
    note = chance_note(table(["better", "within noise", "worse"]), table(["within noise"] * 17 + ["one seed"]))
    assert note == ("2 of these 20 verdicts exceed noise; about 1.0 of 20 would exceed noise by chance alone "
                    "(95% intervals).")
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


def test_phrase_names_every_verdict_and_refuses_others():
    words = ("up", "down", "flat", "alone")
    assert [phrase(v, *words) for v in ("better", "worse", "within noise", "one seed")] == list(words)
    assert phrase("one seed", "up", "down", "flat") == "cannot be judged on one seed"
    with pytest.raises(ValueError, match="verdict must be one of"):
        phrase("beyond noise", *words)


def test_chance_clause_scales_with_the_count_and_level():
    assert chance_clause(40) == "about 2.0 of 40 would exceed noise by chance alone (95% intervals)"
    assert chance_clause(40, level=0.9).startswith("about 4.0 of 40")


def test_findings_add_up_without_overwriting():
    total = Findings(["a"], {"x": 1}) + Findings(["b"], {"y": 2})
    assert total.sentences == ["a", "b"] and total.numbers == {"x": 1, "y": 2}
    sentences, numbers = total  # unpacks as (sentences, numbers)
    assert sentences == ["a", "b"] and numbers == {"x": 1, "y": 2}
    with pytest.raises(ValueError, match=r"both findings record \['x'\]"):
        total + Findings(numbers={"x": 3})


def test_difference_row_keeps_the_recorded_fields_and_drops_nan():
    row = difference_row(pd.Series({"delta": 0.1, "ci_low": float("nan"), "ci_high": float("nan"), "n_seeds": 1,
                                    "verdict": "one seed", "relative": 0.5}))
    assert row == {"delta": 0.1, "ci_low": None, "ci_high": None, "n_seeds": 1, "verdict": "one seed"}


def test_detectable_clause_spans_the_within_noise_rows_only():
    rows = table(["within noise", "better", "within noise", "within noise"]).assign(
        detectable=[0.012, 0.001, 0.004, float("nan")])
    assert detectable_clause(rows) == "could have detected 0.0040 to 0.0120 or more"  # not the 'better' row's
    assert detectable_clause(rows.iloc[:2]) == "could have detected 0.0120 or more"
    assert detectable_clause(rows.iloc[1:2]) == ""  # nothing within noise
    assert detectable_clause(rows.iloc[3:]) == ""  # within noise, but no interval to size
    with pytest.raises(ValueError, match="detectable"):
        detectable_clause(table(["within noise"]))
