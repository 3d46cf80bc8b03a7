"""rfkit.config: one loader for packaged and user YAML configs."""
import subprocess
import sys

import pytest

from rfkit import config
from rfkit.generator import RFEmbeddingGenerator


def test_packaged_configs_and_the_base_chain():
    assert {"multimodal", "rf_default", "training"} <= set(config.available())
    spec = config.load("rf_default")
    multimodal = config.load("multimodal")
    assert "base" not in multimodal
    assert {k: multimodal[k] for k in spec} == spec  # builds on the spec's example, repeats nothing
    assert multimodal["embedding_dim"] == 64 and multimodal["rf_lr"] == 0.0001
    RFEmbeddingGenerator.from_config(multimodal, multimodal["embedding_dim"])  # every rf_* key is known


def test_overrides_and_user_files(tmp_path):
    assert config.load("multimodal", rf_mix_ratio=0.3)["rf_mix_ratio"] == 0.3
    own = tmp_path / "own.yaml"
    own.write_text("base: multimodal\nrf_hidden_dim: 32\n")
    loaded = config.load(own)
    assert loaded["rf_hidden_dim"] == 32 and loaded["rf_mix_ratio"] == 0.1 and loaded["knn_k"] == 10


@pytest.mark.parametrize("text, message", [("- 1\n- 2\n", "must hold a YAML mapping, got list"),
                                           ("a: [1,\n", "is not valid YAML"),
                                           ("base: loop.yaml\n", "cycle")])
def test_bad_files(tmp_path, text, message):
    path = tmp_path / "loop.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        config.load(path)


def test_unknown_names():
    with pytest.raises(ValueError, match="unknown config 'multimodel'"):
        config.load("multimodel")
    with pytest.raises(ValueError, match="does not exist"):
        config.load("missing/file.yaml")


def test_training_budgets():
    quick, full = config.training_options(True), config.training_options(False)
    assert set(quick) == set(full) == {"epochs", "patience", "batch_size"}
    assert quick["epochs"] < full["epochs"]
    assert config.training_options(True, epochs=1)["epochs"] == 1


def test_load_works_outside_the_checkout(tmp_path):
    """The YAML ships inside the package: load() does not look at the working directory."""
    code = "from rfkit import config; print(config.load('multimodal')['rf_hidden_dim'])"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "128"
