"""The report runner and ``python -m rfkit report`` on tiny fixture notebooks.

The fixture folder holds ``record_numbers`` (writes results.json and a figure through RunRecord)
and ``broken`` (raises in its 2nd code cell). One run of both serves most tests.
"""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from rfkit import cli
from rfkit.experiments import compare
from rfkit.cli import main
from rfkit.experiments.run_cache import CACHE_VARIABLE
from rfkit.publish.report import find_notebooks, key_numbers, run_reports

FIXTURE = Path(__file__).parent / "fixtures" / "notebooks" / "record_numbers.ipynb"
PARAMETERS_CELL = 'QUICK = False\nSEED = 0\nOUTPUT_DIR = "out"\nFIGURES_DIR = "out/figures"'


def write_notebook(path: Path, *sources: str) -> Path:
    """A python3 notebook: a parameters cell, then one code cell per source."""
    nb = new_notebook(cells=[new_code_cell(PARAMETERS_CELL, metadata={"tags": ["parameters"]}),
                             *(new_code_cell(s) for s in sources)])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def notebooks(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("notebooks")
    shutil.copy(FIXTURE, folder)
    write_notebook(folder / "broken.ipynb", "x = 1\nraise RuntimeError('planted failure')",
                   "never = 'reached'")
    return folder


@pytest.fixture(scope="module")
def report(notebooks, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    (out / "broken").mkdir()
    (out / "broken" / "results.json").write_text('{"results": {"stale": 1}}')  # a former run
    return out, {r.name: r for r in run_reports(notebooks, out, quick=True,
                                                 parameters={"SEED": 7}, progress=False)}


@pytest.mark.slow
def test_status_per_notebook(report):
    _, reports = report
    assert {name: r.status for name, r in reports.items()} == {"broken": "failed",
                                                               "record_numbers": "ok"}
    assert all(r.seconds > 0 for r in reports.values())


@pytest.mark.slow
def test_good_notebook_leaves_executed_copy_html_and_results(report):
    out, reports = report
    good = reports["record_numbers"]
    assert good.error is None
    assert good.notebook == out / "record_numbers.ipynb" and good.notebook.exists()
    assert good.html == out / "record_numbers.html" and "planted" not in good.html.read_text()
    executed = nbformat.read(good.notebook, as_version=4)
    assert executed.metadata.papermill.duration > 0
    payload = json.loads((out / "record_numbers" / "results.json").read_text())
    assert payload["parameters"] == {"QUICK": True, "SEED": 7,
                                     "OUTPUT_DIR": str(out / "record_numbers"),
                                     "FIGURES_DIR": str(out / "record_numbers" / "figures")}
    assert Path(payload["figures"]["line"]).read_bytes().startswith(b"\x89PNG")
    assert good.output_dir == out / "record_numbers"
    assert good.results == {"score": 0.5, "seed": 7, "metrics": {"recall@20": 0.25},
                            "label": "fixture",
                            "conclusions": ["The fixture scored 0.5 with seed 7."]}
    assert good.figures == {"line": str(out / "record_numbers" / "figures" / "line.png")}
    assert good.provenance["config"] == payload["parameters"]


@pytest.mark.slow
def test_failure_names_the_failing_cell(report):
    out, reports = report
    broken = reports["broken"]
    assert broken.error.startswith("code cell 2: RuntimeError: planted failure")
    assert ">>> x = 1" in broken.error
    assert broken.results == {} and not (out / "broken" / "results.json").exists()
    assert broken.html.exists()


@pytest.mark.slow
def test_index_links_both_and_shows_numbers_and_failure(report):
    out, _ = report
    index = (out / "index.html").read_text()
    assert 'href="record_numbers.html"' in index and 'href="broken.html"' in index
    assert "2 notebook(s), 1 failed" in index
    assert "<h2>Fixture: records numbers and one figure</h2>" in index
    assert "Does the report show what a notebook recorded?" in index
    assert "<li>The fixture scored 0.5 with seed 7.</li>" in index
    assert '<img src="record_numbers/figures/line.png"' in index
    assert "code cell 2: RuntimeError: planted failure" in index
    assert "&gt;&gt;&gt; x = 1" in index  # escaped, not raw markup
    for number in ("score = 0.5", "seed = 7", "metrics.recall@20 = 0.25"):
        assert number in index
    assert "label" not in index  # strings are not key numbers


def test_unknown_parameter_refused_before_anything_runs(notebooks, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"'broken.ipynb'.*\['EPOCHS'\].*valid parameters: "
                                         r"\['FIGURES_DIR', 'OUTPUT_DIR', 'QUICK', 'SEED'\]"):
        run_reports(notebooks, out, parameters={"EPOCHS": 3}, progress=False)
    assert not out.exists()


def test_argument_errors(notebooks, tmp_path):
    with pytest.raises(ValueError, match="must not set.*OUTPUT_DIR"):
        run_reports(notebooks, tmp_path, parameters={"OUTPUT_DIR": "x"})
    with pytest.raises(ValueError, match="no notebook.*only='zzz'"):
        run_reports(notebooks, tmp_path, only="zzz")
    with pytest.raises(ValueError, match="notebooks_dir.*not a directory"):
        run_reports(tmp_path / "missing", tmp_path)
    with pytest.raises(TypeError, match="quick must be a bool"):
        run_reports(notebooks, tmp_path, quick="yes")


def test_only_matches_glob_or_substring(notebooks):
    assert [p.name for p in find_notebooks(notebooks)] == ["broken.ipynb", "record_numbers.ipynb"]
    assert [p.stem for p in find_notebooks(notebooks, "rec*")] == ["record_numbers"]
    assert [p.stem for p in find_notebooks(notebooks, "numbers")] == ["record_numbers"]
    assert find_notebooks(notebooks, "*.ipynb") == find_notebooks(notebooks)


def test_key_numbers_flattens_one_level():
    results = {"a": 1, "b": 0.5, "flag": True, "name": "x", "curve": [1, 2],
               "m": {"r@20": 0.1, "deep": {"x": 1}, "s": "y"}}
    assert key_numbers(results) == {"a": 1, "b": 0.5, "m.r@20": 0.1}


@pytest.mark.slow
def test_cli_exit_code_1_when_a_notebook_fails(notebooks, tmp_path):
    failed = subprocess.run([sys.executable, "-m", "rfkit", "report", "--no-progress", "--quick",
                             "--notebooks", str(notebooks), "--only", "broken",
                             "--output", str(tmp_path), "--no-cache"], capture_output=True, text=True,
                            timeout=120)
    assert failed.returncode == 1
    assert "code cell 2: RuntimeError: planted failure" in failed.stderr
    assert (tmp_path / "index.html").exists()


@pytest.mark.slow
def test_cli_exit_code_0_seed_and_run_cache_passed(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(CACHE_VARIABLE, raising=False)  # main sets it for the kernels; restored after
    folder = tmp_path / "notebooks"
    folder.mkdir()
    write_notebook(folder / "fine.ipynb", "assert SEED == 3 and QUICK is True",
                   f"import os\nassert os.environ['{CACHE_VARIABLE}'] == {str(tmp_path / 'runs')!r}")
    assert main(["report", "--no-progress", "--notebooks", str(folder), "--only", "fine", "--quick",
                 "--seed", "3", "--output", str(tmp_path / "out"), "--cache", str(tmp_path / "runs")]) == 0
    assert re.search(r"fine\s+ok", capsys.readouterr().out)
    monkeypatch.delenv(CACHE_VARIABLE)
    assert main(["report", "--no-progress", "--notebooks", str(folder), "--only", "fine", "--quick",
                 "--seed", "3", "--output", str(tmp_path / "out"), "--no-cache"]) == 1  # the kernel saw none


def test_train_cli_writes_metrics_and_history(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "SYNTHETIC_PRESET", "tiny")
    config = tmp_path / "config.yaml"
    config.write_text("use_rf: true\nembedding_dim: 16\nrf_warmup_epochs: 0\nrf_hidden_dim: 32\n"
                      "rf_sampling_steps: 2\n")
    out = tmp_path / "metrics.json"
    assert main(["train", "--dataset", "synthetic", "--config", str(config), "--epochs", "2",
                 "--seed", "1", "--json", str(out), "--no-progress"]) == 0
    table = capsys.readouterr().out
    assert re.search(r"^MultimodalGCN\s+0\.\d+", table, re.M)
    assert re.search(r"^MultimodalGCN\+RF\s+0\.\d+", table, re.M)
    assert "test_ndcg@20" in table and "best_epoch" in table
    payload = json.loads(out.read_text())
    assert payload["seed"] == 1 and payload["config"]["embedding_dim"] == 16
    assert payload["provenance"]["config"] == payload["config"]
    assert payload["provenance"]["device"] == "cpu" and payload["provenance"]["git_commit"]
    assert set(payload["models"]) == {"MultimodalGCN", "MultimodalGCN+RF"}
    base, rf = payload["models"]["MultimodalGCN"], payload["models"]["MultimodalGCN+RF"]
    assert [row["epoch"] for row in rf["history"]] == [0, 1]
    assert base["history"][0]["rf_loss"] is None and rf["history"][0]["rf_loss"] > 0
    assert 0 <= rf["test"]["recall@20"] <= 1 and rf["best_epoch"] in (0, 1)
    # Warmup 0: both epochs count; the overhead is the ratio of the two models' mean epoch seconds.
    timing = payload["epoch_overhead"]
    assert timing["epochs"] == 2 and timing["rf_s_per_epoch"] == pytest.approx(
        sum(row["seconds"] for row in rf["history"]) / 2)
    assert timing["overhead"] == pytest.approx(timing["rf_s_per_epoch"] / timing["backbone_s_per_epoch"] - 1)
    assert "RF adds" in table and "after the 0-epoch RF warmup" in table


def test_train_cli_no_rf_trains_the_backbone_only(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "SYNTHETIC_PRESET", "tiny")
    out = tmp_path / "metrics.json"
    assert main(["train", "--dataset", "synthetic", "--epochs", "1", "--no-rf", "--json",
                 str(out), "--no-progress"]) == 0
    assert set(json.loads(out.read_text())["models"]) == {"MultimodalGCN"}


@pytest.mark.slow
def test_train_cli_references_add_cornacs_models_on_the_same_split(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "SYNTHETIC_PRESET", "tiny")
    out = tmp_path / "metrics.json"
    assert main(["train", "--dataset", "synthetic", "--epochs", "1", "--no-rf", "--references", "--json",
                 str(out), "--no-progress"]) == 0
    table = capsys.readouterr().out
    for name in ("MostPop", "BPR", "EASE", "VBPR"):
        assert re.search(rf"^{name}\s+0\.\d+", table, re.M), name
    assert "EASE lamb=" in table and "training items masked" in table
    references = json.loads(out.read_text())["references"]
    assert set(references) == {"MostPop", "BPR", "EASE", "VBPR"}
    assert all(0 <= run["test"]["recall@20"] <= 1 and run["best_epoch"] is None for run in references.values())


def test_train_cli_references_without_cornac_is_one_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "cornac", None)
    monkeypatch.delitem(sys.modules, "rfkit.integrations.cornac", raising=False)
    assert_one_line_error(["train", "--dataset", "synthetic", "--references"],
                          "--references: rfkit.integrations.cornac needs Cornac: pip install 'rfkit[cornac]'", capsys)


def assert_one_line_error(argv: list[str], message: str, capsys) -> None:
    """``main(argv)`` exits with status 2 and exactly one stderr line that contains ``message``."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert re.match(rf"python -m rfkit( {argv[0]})?: error: ", err) and "Traceback" not in err
    assert message in err, err


@pytest.fixture
def bad_inputs(tmp_path) -> dict[str, Path]:
    """Files and folders a user might wrongly pass."""
    paths = {name: tmp_path / name for name in ("list.yaml", "typo.yaml", "rf_typo.yaml",
                                                "broken.yaml", "no_inter", "bad_columns",
                                                "bad_feature", "a_folder")}
    paths["list.yaml"].write_text("- 1\n- 2\n")
    paths["typo.yaml"].write_text("embeding_dim: 8\n")
    paths["rf_typo.yaml"].write_text("use_rf: true\nrf_lrr: 0.01\n")
    paths["broken.yaml"].write_text("embedding_dim: [8, 16\nuse_rf: true\n")
    for folder in ("no_inter", "bad_columns", "bad_feature", "a_folder"):
        paths[folder].mkdir()
    (paths["bad_columns"] / "data.inter").write_text("user\titem\n0\t1\n")
    (paths["bad_feature"] / "data.inter").write_text(
        "userID\titemID\trating\ttimestamp\tx_label\n0\t0\t1\t0\t0\n")
    (paths["bad_feature"] / "text_feat.npy").write_bytes(b"not a numpy file")
    return paths


@pytest.mark.parametrize("argv, message", [
    (["--dataset", "nowhere"], "--dataset: unknown source 'nowhere'"),
    (["--dataset", "{tmp}/missing"], "does not exist or is not a folder"),
    (["--dataset", "{no_inter}"], "no *.inter file"),
    (["--dataset", "{bad_columns}"], "interactions lack the column(s)"),
    (["--dataset", "{bad_feature}"], "cannot read feature file"),
    (["--config", "{tmp}/missing.yaml"], "does not exist"),
    (["--config", "multimodel"], "unknown config 'multimodel'"),
    (["--config", "{list.yaml}"], "must hold a YAML mapping, got list"),
    (["--config", "{broken.yaml}"], "is not valid YAML"),
    (["--config", "{typo.yaml}"], "unknown key(s) ['embeding_dim']"),
    (["--config", "{rf_typo.yaml}"], "unknown config key 'rf_lrr' (did you mean 'rf_lr'?)"),
    (["--epochs", "0"], "--epochs: must be a positive integer, got 0"),
    (["--epochs", "x"], "--epochs: must be a positive integer, got 'x'"),
    (["--json", "{a_folder}"], "is a folder, not a file"),
    (["--no-such-option"], "unrecognized arguments: --no-such-option"),
])
def test_train_cli_user_errors_are_one_line_exit_2(argv, message, bad_inputs, tmp_path,
                                                  monkeypatch, capsys):
    monkeypatch.setattr(cli, "SYNTHETIC_PRESET", "tiny")
    monkeypatch.setattr(cli, "compare_rf", lambda *a, **k: pytest.fail("training started"))
    names = {"tmp": str(tmp_path), **{k.replace(".", "_"): str(v) for k, v in bad_inputs.items()}}
    argv = [a.replace(".yaml}", "_yaml}").format(**names) for a in argv]
    dataset = [] if "--dataset" in argv else ["--dataset", "synthetic"]
    assert_one_line_error(["train", *dataset, *argv], message, capsys)


def test_train_cli_missing_dataset_option(capsys):
    assert_one_line_error(["train"], "the following arguments are required: --dataset", capsys)


@pytest.mark.parametrize("argv, message", [
    (["--only", "zzz"], "no notebook in"),
    (["--only", "zzz"], "available: ['broken', 'record_numbers']"),
    (["--notebooks", "{tmp}/missing"], "is not a directory"),
    (["--output", "{tmp}/a_file"], "--output '{tmp}/a_file' exists and is not a folder"),
    (["--seed", "x"], "argument --seed: invalid int value: 'x'"),
])
def test_report_cli_user_errors_are_one_line_exit_2(argv, message, notebooks, tmp_path, capsys):
    (tmp_path / "a_file").write_text("")
    argv = [a.format(tmp=tmp_path) for a in argv]
    defaults = {"--notebooks": str(notebooks), "--output": str(tmp_path / "out")}
    given = [*argv, *(x for k, v in defaults.items() if k not in argv for x in (k, v))]
    assert_one_line_error(["report", *given], message.format(tmp=tmp_path), capsys)
    assert not (tmp_path / "out").exists()  # refused before anything ran


def test_errors_while_working_are_not_user_errors(monkeypatch):
    """A failure during training propagates (traceback, status 1), it is not reported as bad
    input."""
    monkeypatch.setattr(cli, "SYNTHETIC_PRESET", "tiny")

    def diverged(*args, **kwargs):
        raise ValueError("loss is NaN at epoch 3")

    monkeypatch.setattr(compare, "train", diverged)
    with pytest.raises(ValueError, match="loss is NaN"):
        main(["train", "--dataset", "synthetic", "--epochs", "1", "--no-progress"])


def test_train_cli_a_diverged_run_is_one_line_exit_1_and_json_keeps_what_was_measured(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "SYNTHETIC_PRESET", "tiny")
    config = tmp_path / "diverging.yaml"
    config.write_text("base: multimodal\nembedding_dim: 16\nrf_lr: 1000000.0\nrf_warmup_epochs: 1\n"
                      "rf_hidden_dim: 32\nrf_sampling_steps: 2\n")
    out = tmp_path / "run.json"
    with pytest.warns(RuntimeWarning):
        status = main(["train", "--dataset", "synthetic", "--epochs", "3", "--config", str(config),
                       "--json", str(out), "--no-progress"])
    assert status == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("python -m rfkit train: MultimodalGCN+RF failed: training stopped at epoch 1")
    models = json.loads(out.read_text())["models"]
    assert models["MultimodalGCN"]["status"] == "ok" and models["MultimodalGCN+RF"]["status"] == "diverged"
    assert [row["epoch"] for row in models["MultimodalGCN+RF"]["history"]] == [0]
