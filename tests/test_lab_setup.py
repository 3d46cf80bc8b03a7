"""A notebook's start and finish: the record it writes and the findings it renders last."""
import json

import pandas as pd
import pytest

from rfkit.lab import setup
from rfkit.lab.setup import FINDINGS_HEADING, findings_markdown, start
from rfkit.lab.verdicts import Findings

CONCLUSIONS = ["RF minus backbone: -0.0100 [-0.0200, -0.0010] (worse).", "Per bucket:", "  tail: +0.0200 (better)"]


def test_findings_markdown_nests_the_details():
    assert findings_markdown(CONCLUSIONS) == "\n".join([
        FINDINGS_HEADING, "", "- RF minus backbone: -0.0100 [-0.0200, -0.0010] (worse).", "- Per bucket:",
        "    - tail: +0.0200 (better)"])


def test_finish_records_the_findings_and_renders_them_last(tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(setup, "display", shown.append)
    lab = start("demo", True, 0, tmp_path / "out", tmp_path / "figures")
    lab.finish(CONCLUSIONS, CONCLUSIONS[:1], delta=-0.01)
    results = json.loads((tmp_path / "out" / "results.json").read_text())["results"]
    assert results["conclusions"] == CONCLUSIONS and results["key_findings"] == CONCLUSIONS[:1]
    assert results["delta"] == -0.01 and results["runtime_s"] >= 0
    assert [item.data for item in shown] == [findings_markdown(CONCLUSIONS)]


def test_a_key_finding_must_be_a_conclusion(tmp_path):
    lab = start("demo", True, 0, tmp_path / "out", tmp_path / "figures")
    with pytest.raises(ValueError, match="key_findings must be among the conclusions; not found: \\['made up'\\]"):
        lab.finish(CONCLUSIONS, ["made up"])
    assert not (tmp_path / "out" / "results.json").exists()


def test_finish_takes_findings_with_their_numbers_and_tables(tmp_path, monkeypatch):
    monkeypatch.setattr(setup, "display", lambda _: None)
    lab = start("demo", True, 0, tmp_path / "out", tmp_path / "figures")
    differences = pd.DataFrame({"delta": [0.01, float("nan")], "verdict": ["better", "one seed"]})
    lab.finish(Findings(CONCLUSIONS, {"differences": differences}), CONCLUSIONS[:1], n_seeds=3)
    results = json.loads((tmp_path / "out" / "results.json").read_text())["results"]
    assert results["conclusions"] == CONCLUSIONS and results["n_seeds"] == 3
    assert results["differences"] == [{"delta": 0.01, "verdict": "better"}, {"delta": None, "verdict": "one seed"}]
    with pytest.raises(ValueError, match=r"both findings record \['n_seeds'\]"):
        lab.finish(Findings(CONCLUSIONS, {"n_seeds": 2}), n_seeds=3)  # a number is never silently replaced
