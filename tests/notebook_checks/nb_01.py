"""Checks of notebooks/01_integration.ipynb's quick run."""
import math
from typing import Any

import pandas as pd
import pytest

from rfkit.experiments.cost import ACCURACY_TOLERANCE, KNOBS
from rfkit.experiments.references import REFERENCES
from rfkit.experiments.tuning import CHOICE_METRIC, QUICK_HOST_GRID
from rfkit.stats import chance_exceedances, paired_differences

TEST_METRICS = ("test_recall@10", "test_recall@20", "test_ndcg@10", "test_ndcg@20")


GENERATORS = ("RF", "regression", "placebo")


def check_differences(runs: list[dict[str, Any]], recorded: list[dict[str, Any]], baseline: str) -> None:
    """Each recorded row (one per treatment and test metric) is the paired difference of the recorded runs."""
    table = pd.DataFrame(runs)
    assert [row["metric"] for row in recorded] == list(TEST_METRICS) * (len(recorded) // len(TEST_METRICS))
    for row in recorded:
        treatment = row["variant"]
        expected = paired_differences(table, row["metric"], baseline, [treatment]).iloc[0]
        by_seed = table.pivot(index="seed", columns="variant", values=row["metric"])
        assert row["delta"] == pytest.approx((by_seed[treatment] - by_seed[baseline]).mean(), abs=1e-12)
        for key in ("delta", "ci_low", "ci_high", "baseline_mean", "treatment_mean"):
            assert row[key] == pytest.approx(expected[key], abs=1e-12)
        assert row["n_seeds"] == expected["n_seeds"] == len(by_seed) and row["verdict"] == expected["verdict"]
        assert row["ci_low"] <= row["delta"] <= row["ci_high"]
        assert (row["verdict"] in ("better", "worse")) == (row["ci_low"] > 0 or row["ci_high"] < 0)


def check_knobs(r: dict[str, Any], config_name: str, seeds: list[int]) -> None:
    """The knob table pairs every variant with the spec-literal runs by seed; 'keeps accuracy' is the
    interval rule; the overhead is s/epoch over the backbone's; the conclusions name the cheapest keeper."""
    knob_runs = pd.DataFrame(r["knob_runs"])
    assert set(knob_runs["variant"]) == {"spec-literal", "documented defaults", *(f"knob: {k}" for k in KNOBS)}
    assert all(sorted(group) == seeds for _, group in knob_runs.groupby("variant")["seed"])
    main = pd.DataFrame(r["runs"])
    main = main[main["variant"].isin(["backbone", "RF"]) & main["seed"].isin(seeds)]
    runs = pd.concat([main.replace({"variant": {"RF": config_name}}), knob_runs])
    table = pd.DataFrame(r["knobs"]).set_index("variant")
    assert set(table.index) == set(runs["variant"])
    assert list(table["s/epoch"]) == sorted(table["s/epoch"])
    for name, row in table.iterrows():
        assert row["overhead"] == pytest.approx(row["s/epoch"] / table.loc["backbone", "s/epoch"] - 1)
        assert row["test_ndcg@20"] == pytest.approx(runs.loc[runs["variant"] == name, "test_ndcg@20"].mean())
        verdicts = runs.loc[runs["variant"] == name, "health_verdict"]
        if name == "backbone":  # no generator, no health
            assert pd.isna(row["learned"]) and verdicts.isna().all()
        else:
            assert row["learned"] == (verdicts == "learned").sum()
        if name == "spec-literal":
            assert row["delta"] == 0.0 and row["keeps_accuracy"]
            continue
        expected = paired_differences(runs, "test_ndcg@20", "spec-literal", [name]).iloc[0]
        assert [row[k] for k in ("delta", "ci_low", "ci_high")] == pytest.approx(
            [expected[k] for k in ("delta", "ci_low", "ci_high")], abs=1e-12)
        assert row["keeps_accuracy"] == (expected["ci_low"] > -ACCURACY_TOLERANCE)
    keepers = table[table["keeps_accuracy"] & (table.index != "backbone")]
    assert r["conclusions"][-1].startswith(f"  => the cheapest RF integration that keeps the literal accuracy: "
                                           f"{keepers.index[0]} (")


def check_references(r: dict[str, Any], seeds: list[int]) -> None:
    """The host was chosen on validation among the grid; every reference ran on every seed, the
    deterministic ones alike on all; 'where the host stands' pairs them with the backbone by seed."""
    tuning = pd.DataFrame(r["host_tuning"])
    assert len(tuning) == len(pd.MultiIndex.from_product(list(QUICK_HOST_GRID.values())))
    assert tuning["chosen"].sum() == 1
    chosen = tuning[tuning["chosen"]].iloc[0]
    assert chosen[CHOICE_METRIC] == tuning[CHOICE_METRIC].max()
    assert r["host"] == {k: chosen[k] for k in QUICK_HOST_GRID}
    references = pd.DataFrame(r["references"])
    assert list(references["variant"].unique()) == list(REFERENCES)
    assert all(sorted(group) == seeds for _, group in references.groupby("variant")["seed"])
    assert (references[~references["stochastic"]].groupby("variant")["test_ndcg@20"].nunique() == 1).all()
    assert (references["test_recall@20"] >= references["test_recall@10"]).all()
    table = pd.concat([pd.DataFrame(r["runs"]), references])
    for row in r["versus_references"]:
        expected = paired_differences(table, "test_ndcg@20", "backbone", [row["variant"]]).iloc[0]
        assert row["delta"] == pytest.approx(expected["delta"], abs=1e-12) and row["verdict"] == expected["verdict"]
    assert [row["variant"] for row in r["versus_references"]] == list(REFERENCES)
    standing = next(c for c in r["conclusions"] if c.startswith("Where the host stands"))
    trails = [row["variant"] for row in r["versus_references"] if row["verdict"] == "better"]
    assert (f"The host trails {', '.join(trails)} beyond noise" in standing) == bool(trails)
    assert r["conclusions"][0].startswith(f"Tuned on {CHOICE_METRIC} over {len(tuning)} host settings")


def check(payload: dict[str, Any]) -> None:
    """Per-variant means/stds are those of the recorded runs; the paired verdicts and the overhead
    follow from them; the backbone spends no time in a generator; during warmup both generator
    models train exactly like the backbone; the knob table follows from its runs."""
    r, p = payload["results"], payload["parameters"]
    runs, seeds = r["runs"], p["SEEDS"]
    assert r["config_matches_generator"]
    by_variant = {v: [row for row in runs if row["variant"] == v] for v in ("backbone", *GENERATORS)}
    assert set(r["per_variant"]) == set(by_variant)
    for variant, rows in by_variant.items():
        assert sorted(row["seed"] for row in rows) == seeds and len(seeds) >= 2
        stats = r["per_variant"][variant]
        for metric in ("valid_recall@20", "test_ndcg@20", "test_recall@10"):
            values = [row[metric] for row in rows]
            mean = sum(values) / len(values)
            std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
            assert stats[metric] == pytest.approx({"mean": mean, "std": std}, abs=1e-12)
        for split in ("valid", "test"):  # recall@K counts hits in the top K: monotone in K
            assert all(row[f"{split}_recall@20"] >= row[f"{split}_recall@10"] for row in rows)
            assert set(stats) >= {f"{split}_{m}@{k}" for m in ("recall", "ndcg") for k in (10, 20)}
        assert all(row["best_epoch"] < row["epochs_run"] <= p["TRAINING"]["epochs"] for row in rows)
        assert all(row["mixed_at_best"] == (variant in GENERATORS and row["best_epoch"] >= r["warmup_epochs"])
                   for row in rows)
    assert all(row["rf_seconds"] == 0.0 for row in by_variant["backbone"])
    assert all(0.0 < row["rf_seconds"] < row["train_seconds"] for v in GENERATORS for row in by_variant[v])
    assert [row["variant"] for row in r["differences"]] == [v for v in GENERATORS for _ in TEST_METRICS]
    check_differences(runs, r["differences"], "backbone")
    assert [row["variant"] for row in r["flow_vs_regression"]] == ["RF"] * len(TEST_METRICS)
    check_differences([row for row in runs if row["variant"] in ("RF", "regression")], r["flow_vs_regression"],
                      "regression")
    assert [row["variant"] for row in r["versus_placebo"]] == [v for v in ("RF", "regression") for _ in TEST_METRICS]
    check_differences([row for row in runs if row["variant"] != "backbone"], r["versus_placebo"], "placebo")
    for row in r["differences"] + r["versus_placebo"]:  # "within noise" says what it could have detected
        assert (row["detectable"] is None) == (row["n_seeds"] < 2) and (row["detectable"] or 0) >= 0
    compared = r["differences"] + r["flow_vs_regression"] + r["versus_placebo"]
    # every generator run carries its health; the placebo, which learns nothing, never "learned"
    health = {row["variant"]: row for row in r["health"]}
    assert set(health) == set(GENERATORS) and health["placebo"]["learned"] == 0
    for variant in GENERATORS:
        rows = by_variant[variant]
        assert health[variant]["runs"] == len(rows)
        assert health[variant]["learned"] == sum(row["health_verdict"] == "learned" for row in rows)
        assert health[variant]["one_step_cosine"] == pytest.approx(
            sum(row["health_one_step_cosine"] for row in rows) / len(rows))
        assert all(row["rf_steps_taken"] > 0 for row in rows)
    assert any(c.startswith("Generator health at each run's best epoch") for c in r["conclusions"])
    headline = next(row for row in r["differences"] if row["metric"] == "test_ndcg@20" and row["variant"] == "RF")
    assert {k: r["verdict"][k] for k in headline if k != "variant"} == {k: v for k, v in headline.items() if k != "variant"}
    assert r["verdict"]["n_beyond_noise"] == sum(row["verdict"] in ("better", "worse") for row in compared)
    assert r["verdict"]["n_comparisons"] == len(compared) == 24
    assert r["verdict"]["chance_exceedances"] == pytest.approx(chance_exceedances(len(compared)))
    assert r["verdict"]["rf_runs_mixed_at_best"] == sum(row["mixed_at_best"] for row in by_variant["RF"])
    o = r["overhead"]
    rf_seconds = sum(row["rf_seconds"] for row in by_variant["RF"])
    assert o["share"] == pytest.approx(rf_seconds / sum(row["train_seconds"] for row in by_variant["RF"]))
    assert o["overhead"] == pytest.approx(o["share"] / (1 - o["share"]))
    assert o["within_spec_claim"] == (o["overhead"] <= 0.2)
    # The warmup identity: bit-identical losses and metrics before the warmup ends, not after.
    assert r["warmup_epochs"] >= 1 and r["warmup_prefix_seed_epochs"] == len(seeds) * r["warmup_epochs"]
    assert r["warmup_prefix_max_diff"] == 0.0 < r["after_warmup_max_diff"]
    assert r["cost_seeds"] == seeds[:3]
    check_knobs(r, p["CONFIG"], r["cost_seeds"])
    check_references(r, seeds)
    assert len(payload["figures"]) >= 5
