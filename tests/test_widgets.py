"""rfkit.widgets: the inference-ratio explorer's numbers, driven from Python as a reader would."""
import matplotlib

matplotlib.use("Agg")
import pytest  # noqa: E402

from rfkit.models import MultimodalGCN  # noqa: E402
from rfkit.train import train  # noqa: E402
from rfkit.lab.widgets import (backbone_metrics, inference_ratio_explorer, ratio_metrics,  # noqa: E402
                           ratio_table)

CONFIG = {"use_rf": True, "embedding_dim": 16, "rf_hidden_dim": 32, "rf_warmup_epochs": 0,
          "rf_mix_ratio": 0.3, "rf_inference_mix_ratio": 0.4}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def trained(tiny):
    model = MultimodalGCN(CONFIG, tiny)
    train(model, tiny, epochs=2, patience=2, batch_size=4096, progress=False)
    return model


def test_ratio_zero_is_the_backbone_and_ratio_one_is_not(tiny, trained):
    backbone = backbone_metrics(trained, tiny)
    assert ratio_metrics(trained, tiny, 0.0) == backbone
    assert ratio_metrics(trained, tiny, 1.0) != backbone
    assert hasattr(trained, "rf_generator")  # the backbone was measured on a copy
    assert trained.rf_generator.inference_mix_ratio == 0.4
    assert set(backbone) >= {"valid_ndcg@20", "test_recall@10"}
    assert all(0 <= v <= 1 for v in backbone.values())


def test_slider_rescores_and_shows_the_numbers(tiny, trained):
    explorer = inference_ratio_explorer(trained, tiny, step=0.1)
    assert explorer.slider.value == pytest.approx(0.4)  # the model's configured ratio
    assert explorer.metrics == ratio_metrics(trained, tiny, 0.4)
    assert explorer.note.value == ""
    first_chart = explorer.chart.value

    explorer.slider.value = 0.0
    assert explorer.metrics == explorer.backbone == backbone_metrics(trained, tiny)
    assert "+0.0000" in explorer.table.value  # no change against the backbone
    assert explorer.chart.value[:8] == PNG_SIGNATURE and explorer.chart.value != first_chart

    explorer.slider.value = 1.0
    at_one = ratio_metrics(trained, tiny, 1.0)
    assert explorer.metrics == at_one
    assert f"{at_one['valid_ndcg@20']:.4f}" in explorer.table.value
    assert list(explorer.children) == [explorer.slider, explorer.note, explorer.chart, explorer.table]


def test_ratio_table_rows_and_change():
    table = ratio_table({"valid_ndcg@20": 0.3, "test_ndcg@20": 0.2},
                        {"valid_ndcg@20": 0.25, "test_ndcg@20": 0.2}, ["valid_ndcg@20", "test_ndcg@20"])
    assert list(table.index) == ["valid_ndcg@20", "test_ndcg@20"]
    assert table["change"].tolist() == pytest.approx([0.05, 0.0])


def test_explorer_warns_during_warmup(tiny):
    model = MultimodalGCN({**CONFIG, "rf_warmup_epochs": 5}, tiny)
    explorer = inference_ratio_explorer(model, tiny, ratio=0.5)
    assert "warmup" in explorer.note.value
    assert explorer.metrics == explorer.backbone  # mixing is off at every ratio


def test_explorer_refuses_models_without_rf_and_unknown_metrics(tiny, trained):
    with pytest.raises(ValueError, match="use_rf"):
        inference_ratio_explorer(MultimodalGCN({"embedding_dim": 16}, tiny), tiny)
    with pytest.raises(ValueError, match="unknown metric"):
        inference_ratio_explorer(trained, tiny, shown=["valid_ndcg@50"])
    with pytest.raises(ValueError, match="inference_mix_ratio"):
        ratio_metrics(trained, tiny, 1.5)


# ---------------------------------------------------------------- trajectory explorer
def test_trajectory_frame_picks_the_nearest_grid_time():
    import numpy as np

    from rfkit.lab.widgets import trajectory_frame

    projected = np.arange(5 * 3 * 2, dtype=float).reshape(5, 3, 2)  # 4 steps: t = 0, .25, .5, .75, 1
    assert trajectory_frame(projected, 0.0)[:2] == (0, 0.0)
    index, t, points = trajectory_frame(projected, 0.3)
    assert (index, t) == (1, 0.25) and (points == projected[1]).all()
    assert trajectory_frame(projected, 1.7)[:2] == (4, 1.0)  # clipped to [0, 1]
    assert trajectory_frame(projected, -1)[0] == 0
    with pytest.raises(ValueError, match="n_points >= 2"):
        trajectory_frame(projected[:1], 0.5)


def test_trajectory_explorer_slider_redraws_the_frame():
    import numpy as np

    from rfkit.lab.widgets import trajectory_explorer, trajectory_frame

    rng = np.random.default_rng(0)
    projected = rng.normal(size=(11, 30, 2))
    explorer = trajectory_explorer(projected, values=rng.random(30), targets=rng.normal(size=(30, 2)))
    assert explorer.slider.value == 1.0 and explorer.index == 10 and explorer.time == 1.0
    at_end = explorer.chart.value
    assert at_end[:8] == PNG_SIGNATURE

    explorer.slider.value = 0.3
    index, t, points = trajectory_frame(projected, 0.3)
    assert (explorer.index, explorer.time) == (index, t) == (3, 0.3)
    assert (explorer.points == points).all() and explorer.chart.value != at_end
    assert list(explorer.children) == [explorer.slider, explorer.chart]
