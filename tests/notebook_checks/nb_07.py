"""Checks of notebooks/07_cold_start.ipynb's quick run."""
from typing import Any

import pandas as pd
import pytest

from rfkit.lab.cold_start import HOSTS, conclusions
from rfkit.stats import paired_differences

METRICS = [f"{g}_{m}@20" for g in ("cold", "warm", "all") for m in ("recall", "ndcg")]
MAPPERS = ["rf_1step", "rf", "rf_mean", "regression"]


def expected_methods(host: str, synthetic: bool) -> set[str]:
    return {*MAPPERS, "random", "vbpr_content"} | ({"zero"} if host == "multimodal" else {"untrained"}) \
        | ({"host_ceiling", "data_ceiling"} if synthetic else set())


def same_rows(frame: pd.DataFrame, keys: list[str], columns: list[str]) -> bool:
    """Whether the rows sharing ``keys`` agree exactly on ``columns``."""
    return bool((frame.groupby(keys)[columns].nunique() == 1).all().all())


def check(payload: dict[str, Any]) -> None:
    """The grid is complete, metrics lie in [0, 1], what cold methods cannot change is unchanged
    (warm metrics; random scores; the ID-only host across informativeness), and the recorded
    differences and sentences follow from the recorded per-seed numbers."""
    p, r = payload["parameters"], payload["results"]
    frame = pd.DataFrame(r["cold_start"])
    assert p["REFERENCES"] is True
    assert not frame[[*METRICS, "valid_cold_recall@20"]].isna().any().any()
    assert frame[[*METRICS, "valid_cold_recall@20"]].ge(0).all().all()
    assert frame[[*METRICS, "valid_cold_recall@20"]].le(1).all().all()

    # Every (setting, host, method, seed) once: one real setting, one per informativeness.
    real = frame[frame["informativeness"].isna()]
    synthetic = frame[frame["informativeness"].notna()]
    assert real["setting"].nunique() == 1
    assert sorted(synthetic["informativeness"].unique()) == sorted(p["INFORMATIVENESS"])
    assert synthetic.groupby("informativeness")["setting"].nunique().eq(1).all()
    assert not frame.duplicated(["setting", "host", "method", "seed"]).any()
    for setting, rows in frame.groupby("setting"):
        is_synthetic = rows["informativeness"].notna().all()
        assert sorted(rows["host"].unique()) == sorted(p["SYNTHETIC_HOSTS"] if is_synthetic else HOSTS)
        seeds = list(range(p["SEED"], p["SEED"] + p["SYNTHETIC_SEEDS"])) if is_synthetic else p["SEEDS"]
        for host, cell in rows.groupby("host"):
            assert sorted(cell["seed"].unique()) == sorted(seeds)
            for _, seed_rows in cell.groupby("seed"):
                assert set(seed_rows["method"]) == expected_methods(host, is_synthetic), (setting, host)

    # A mapper's methods average SYNTHETIC_MAPPER_FITS fits on synthetic data and one fit on real data.
    mapped = frame[frame["method"].isin(["rf_1step", "rf", "rf_mean", "regression"])]
    fits = mapped["informativeness"].notna().map({True: p["SYNTHETIC_MAPPER_FITS"], False: 1})
    assert (mapped["mapper_fits"] == fits).all()
    assert frame.loc[~frame.index.isin(mapped.index), "mapper_fits"].isna().all()

    # Cold methods replace cold rows only: warm metrics agree across methods of one host and seed.
    hosted = frame[~frame["method"].isin(["random", "vbpr_content", "data_ceiling"])]
    assert same_rows(hosted, ["setting", "host", "seed"], ["warm_recall@20", "warm_ndcg@20"])
    # Cornac's VBPR has no host of ours: one model per setting and seed, the same row for every host.
    vbpr = frame[frame["method"] == "vbpr_content"]
    assert vbpr["best_epoch"].isna().all() and same_rows(vbpr, ["setting", "seed"], METRICS)
    # The data's ceiling needs no host either: the same on every host of one setting and seed.
    assert same_rows(frame[frame["method"] == "data_ceiling"], ["setting", "seed"], METRICS)
    # The multimodal host measured why its untrained cold row is no baseline of its own.
    multimodal = hosted[hosted["host"] == "multimodal"]
    assert (multimodal["cold_id_rms"] < multimodal["warm_id_rms"]).all()
    assert multimodal["untrained_minus_zero"].notna().all()
    assert r["warm_identical"] is True
    # Random scores depend on the seed and the split only: equal across hosts and informativeness
    # (synthetic interactions, hence cold splits, do not depend on informativeness).
    random = frame[frame["method"] == "random"]
    assert same_rows(random, ["setting", "seed"], METRICS)
    assert same_rows(random[random["informativeness"].notna()], ["seed"], METRICS)
    # The ID-only host never sees the features: its untrained rows and warm metrics ignore s.
    id_only = synthetic[(synthetic["host"] == "lightgcn")
                        & ~synthetic["method"].isin(["random", "vbpr_content", "data_ceiling"])]
    assert same_rows(id_only[id_only["method"] == "untrained"], ["seed"], METRICS + ["best_epoch"])
    assert same_rows(id_only, ["seed"], ["warm_recall@20", "warm_ndcg@20"])

    # Recorded paired differences recomputed from the per-seed records.
    diffs = pd.DataFrame(r["differences"])
    seeds_per_setting = frame.groupby("setting")["seed"].nunique()
    assert len(diffs) > 0 and (diffs["n_seeds"] == diffs["setting"].map(seeds_per_setting)).all()
    for row in diffs.to_dict(orient="records"):
        cell = frame[(frame["setting"] == row["setting"]) & (frame["host"] == row["host"])]
        again = paired_differences(cell, row["metric"], row["baseline"], [row["method"]], variant="method").iloc[0]
        assert row["delta"] == pytest.approx(again["delta"], abs=1e-12)
        assert row["delta"] == pytest.approx(row["treatment_mean"] - row["baseline_mean"], abs=1e-12)
        if row["ci_low"] is not None:
            assert (row["ci_low"], row["ci_high"]) == pytest.approx((again["ci_low"], again["ci_high"]), abs=1e-12)
        assert row["verdict"] == again["verdict"]
        if row["detectable"] is not None:
            assert row["detectable"] == pytest.approx(again["detectable"], rel=1e-9)
    # What the study could detect: one row per setting and host, the rf_mean - regression pair's.
    sizing = pd.DataFrame(r["sizing"])
    cells = frame[["setting", "host"]].drop_duplicates()
    assert len(sizing) == len(cells) and sizing.merge(cells).shape[0] == len(cells)
    pair = diffs[(diffs["metric"] == "cold_recall@20") & (diffs["baseline"] == "regression")
                 & (diffs["method"] == "rf_mean")]
    assert sorted(sizing["detectable"].tolist()) == pytest.approx(sorted(pair["detectable"].tolist()))
    # Warm metrics are identical, so only cold and hybrid metrics are compared.
    assert set(diffs["metric"]) == {"cold_recall@20", "cold_ndcg@20", "all_recall@20", "all_ndcg@20"}

    # The sentences follow from the records, and the RF-vs-regression answer from the verdicts.
    sentences = r["conclusions"]
    assert sentences == conclusions(r["cold_start"]).sentences
    assert sentences[0].startswith("Generator health at each run's best epoch") and "rf learned in" in sentences[0]
    for (setting, host), cell in frame.groupby(["setting", "host"]):
        verdicts = paired_differences(cell, "cold_recall@20", "regression", ["rf_1step", "rf", "rf_mean"],
                                      variant="method")["verdict"]
        head = ("RF beats regression" if (verdicts == "better").any() else
                "regression beats every RF variant" if (verdicts == "worse").all() else
                "RF does not beat regression")
        assert sum(s.startswith(f"{setting}, {host} host: {head} on cold items") for s in sentences) == 1
    assert {"cold_recall", "versus_regression"} <= set(payload["figures"])
