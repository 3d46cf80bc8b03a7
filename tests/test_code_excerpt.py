"""rfkit.lab.code_excerpt: excerpts of real source code, delimited by markers."""
import pytest

from rfkit.models import MultimodalGCN
from rfkit.lab.code_excerpt import source_excerpt


def sample(x):
    """Docstring."""
    y = x + 1

    z = y * 2
    return z


def test_whole_source_is_dedented_with_a_header():
    lines = source_excerpt(sample).splitlines()
    assert lines[0].startswith("# ") and lines[0].endswith(f"lines {sample.__code__.co_firstlineno}-"
                                                           f"{sample.__code__.co_firstlineno + 5}")
    assert "tests/test_code_excerpt.py" in lines[0]
    assert lines[1] == "def sample(x):" and lines[-1] == "    return z"


def test_markers_delimit_the_excerpt():
    assert source_excerpt(sample, "y = x", "z = y", header=False) == "y = x + 1\n\nz = y * 2"
    assert source_excerpt(sample, "z = y", header=False) == "z = y * 2\nreturn z"


def test_missing_marker_is_an_error():
    with pytest.raises(ValueError, match="'nowhere' not found"):
        source_excerpt(sample, "nowhere")
    with pytest.raises(ValueError, match=r"'x \+ 1' not found"):
        source_excerpt(sample, "z = y", "x + 1")


def test_the_model_excerpt_shows_the_rf_plug_in():
    code = source_excerpt(MultimodalGCN.__init__, 'if cfg["use_rf"]', "register_buffer")
    assert code.splitlines()[1] == 'if cfg["use_rf"]:'
    assert "make_generator(cfg, d)" in code  # RFEmbeddingGenerator.from_config, or the regression baseline
