"""What several notebook checks share."""
import pandas as pd
import pytest

DIFFERENCE = ("delta", "ci_low", "ci_high")


def same_differences(recorded: list[dict], recomputed: pd.DataFrame, keys: list[str],
                     columns: tuple[str, ...] = DIFFERENCE) -> None:
    """Every recorded paired difference equals the one recomputed from the per-seed numbers."""
    assert len(recorded) == len(recomputed)
    expected = {tuple(row[k] for k in keys): row for _, row in recomputed.iterrows()}
    for row in recorded:
        again = expected[tuple(row[k] for k in keys)]
        assert [row[c] for c in columns] == pytest.approx([again[c] for c in columns], abs=1e-12)
        assert row["n_seeds"] == again["n_seeds"] and row["verdict"] == again["verdict"]


def runs_carry_health(rows: list[dict]) -> None:
    """Every run record names its generator (None: no generator, e.g. the backbone) and, with one,
    its health verdict, so the learned runs of a notebook can be counted."""
    assert rows, "no run records"
    for row in rows:
        assert "generator" in row, f"a run record names no generator: {sorted(row)[:12]}"
        if row["generator"] is not None:
            assert row["generator"] in ("flow", "regression", "noise")
            assert row["health_verdict"] in ("learned", "not learned")
