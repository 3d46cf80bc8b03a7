"""``python -m rfkit``: ``report`` runs the notebooks into an HTML report; ``train`` compares the
multimodal backbone with and without RF on one dataset.

Bad input (arguments, config, dataset, notebook selection) is found before any work starts and
reported in one line with exit status 2; a run that fails while working exits with status 1.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import pandas as pd
import yaml

from rfkit.data import Dataset, load
from rfkit.models import MultimodalGCN
from rfkit.provenance import provenance
from rfkit.report import run_notebooks, select_notebooks, summary_table
from rfkit.train import train

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "multimodal.yaml"
SYNTHETIC_PRESET = "small"
TABLE_METRICS = ("recall@10", "recall@20", "ndcg@10", "ndcg@20")
# What bad input raises (a malformed MMRec file raises pandas' parser errors, ValueErrors).
INPUT_ERRORS = (ValueError, TypeError, FileNotFoundError, NotADirectoryError, yaml.YAMLError)


class UserError(Exception):
    """Bad input, found before any work: reported in one line, exit status 2."""


@contextmanager
def user_input(argument: str | None = None) -> Iterator[None]:
    """Inside, the errors that bad input raises become a one-line UserError, prefixed with the
    ``argument`` it came from when the message does not name it. Use it only around reading and
    checking input, never around the work, so that a bug still shows its traceback."""
    try:
        yield
    except INPUT_ERRORS as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        if argument is not None and argument not in message:
            message = f"{argument}: {message}"
        raise UserError(message) from exc


def _check_output(option: str, path: Path, folder: bool) -> None:
    """Refuse an output path that cannot be written, before hours of work are lost."""
    if folder and path.exists() and not path.is_dir():
        raise ValueError(f"{option} {str(path)!r} exists and is not a folder")
    if not folder and path.is_dir():
        raise ValueError(f"{option} {str(path)!r} is a folder, not a file")


def _report(args: argparse.Namespace) -> int:
    parameters = {} if args.seed is None else {"SEED": args.seed}
    with user_input():
        paths = select_notebooks(args.notebooks, args.only, args.quick, parameters)
        _check_output("--output", Path(args.output), folder=True)
    reports = run_notebooks(paths, args.output, quick=args.quick, figures_dir=args.figures,
                            parameters=parameters, progress=not args.no_progress)
    print(summary_table(reports).to_string(index=False))
    for report in reports:
        if report.error:
            print(f"\n{report.name} failed at {report.error}", file=sys.stderr)
    print(f"\nreport: {Path(args.output) / 'index.html'}")
    return int(any(r.status == "failed" for r in reports))


def load_config(path: Path | None) -> dict[str, Any]:
    """The YAML mapping at ``path``; without a path, DEFAULT_CONFIG if it exists, else {}."""
    if path is None:
        if not DEFAULT_CONFIG.exists():
            return {}
        path = DEFAULT_CONFIG
    if not path.is_file():
        raise ValueError(f"--config {str(path)!r} is not a file")
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ValueError(f"--config {str(path)!r} is not valid YAML: {problem}{where}") from exc
    if not isinstance(config, dict):
        raise ValueError(f"--config {str(path)!r} must hold a YAML mapping, "
                         f"got {type(config).__name__}")
    return config


def build_models(dataset: Dataset, config: Mapping[str, Any], seed: int,
                 with_rf: bool) -> dict[str, MultimodalGCN]:
    """MultimodalGCN without RF and (if ``with_rf``) with RF, both built now so that a bad
    config key or value is refused before any training."""
    variants = {"MultimodalGCN": False, **({"MultimodalGCN+RF": True} if with_rf else {})}
    return {name: MultimodalGCN({**config, "use_rf": use_rf, "seed": seed}, dataset)
            for name, use_rf in variants.items()}


def compare_rf(models: Mapping[str, MultimodalGCN], dataset: Dataset, epochs: int, seed: int,
               progress: bool = True) -> dict[str, dict[str, Any]]:
    """Train each of ``models`` (from `build_models`) on the same data and seed.

    Per model: best epoch, valid and test metrics at it, training seconds and the per-epoch
    history (list of records, NaN as None).
    """
    outcome = {}
    for name, model in models.items():
        start = time.perf_counter()
        result = train(model, dataset, epochs=epochs, seed=seed, progress=progress)
        outcome[name] = {"best_epoch": result.best_epoch,
                         "seconds": time.perf_counter() - start,
                         "valid": result.best_valid, "test": result.test_at_best,
                         "history": json.loads(result.history.to_json(orient="records"))}
    return outcome


def metrics_table(outcome: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Rows: model; columns: valid/test recall and ndcg @10/@20, best epoch, seconds."""
    rows = {name: {**{f"{split}_{m}": run[split][m] for split in ("valid", "test")
                      for m in TABLE_METRICS},
                   "best_epoch": run["best_epoch"], "seconds": round(run["seconds"], 1)}
            for name, run in outcome.items()}
    return pd.DataFrame.from_dict(rows, orient="index").round(4)


def _train(args: argparse.Namespace) -> int:
    with user_input():
        config = load_config(args.config)
        if args.json is not None:
            _check_output("--json", args.json, folder=False)
    seed = args.seed if args.seed is not None else config.get("seed", 0)
    with_rf = not args.no_rf and bool(config.get("use_rf", True))
    with user_input("--dataset"):
        dataset = (load("synthetic", preset=SYNTHETIC_PRESET) if args.dataset == "synthetic"
                   else load(args.dataset))
    with user_input():
        models = build_models(dataset, config, seed, with_rf)
    outcome = compare_rf(models, dataset, args.epochs, seed, not args.no_progress)
    print(metrics_table(outcome).to_string())
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"dataset": dataset.name, "config": config, "epochs": args.epochs,
                   "seed": seed, "models": outcome,
                   "provenance": provenance(device="cpu", config=config)}
        args.json.write_text(json.dumps(payload, indent=2))
        print(f"metrics and history: {args.json}")
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (the usage block is left to --help)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``report`` and ``train`` subcommands."""
    parser = _Parser(prog="python -m rfkit", description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    report = commands.add_parser("report", help="execute the notebooks into an HTML report")
    report.add_argument("--quick", action="store_true", help="run with QUICK=True (tiny data)")
    report.add_argument("--only", metavar="PATTERN",
                        help="only notebooks whose name matches this glob or substring")
    report.add_argument("--output", default="reports", metavar="DIR",
                        help="where executed notebooks, HTML and results go (default: reports)")
    report.add_argument("--figures", metavar="DIR",
                        help="FIGURES_DIR for every notebook (default: OUTPUT/<notebook>/figures)")
    report.add_argument("--seed", type=int, help="SEED passed to every notebook")
    report.add_argument("--notebooks", default="notebooks", metavar="DIR",
                        help="folder of notebooks to run (default: notebooks)")
    report.add_argument("--no-progress", action="store_true", help="hide progress bars")
    report.set_defaults(handler=_report)

    training = commands.add_parser("train", help="train MultimodalGCN without and with RF")
    training.add_argument("--dataset", required=True, metavar="{movielens,synthetic,PATH}",
                       help=f"a named source (synthetic uses preset {SYNTHETIC_PRESET!r}) "
                            "or an MMRec folder")
    training.add_argument("--config", type=Path, metavar="YAML",
                       help="model and rf_* keys (default: configs/multimodal.yaml if present)")
    training.add_argument("--epochs", type=_positive_int, default=50, help="maximum epochs")
    training.add_argument("--seed", type=int, help="model and training seed (default: config's)")
    training.add_argument("--no-rf", action="store_true", help="train the backbone only")
    training.add_argument("--json", type=Path, metavar="OUT",
                       help="write metrics and per-epoch history here")
    training.add_argument("--no-progress", action="store_true", help="hide progress bars")
    training.set_defaults(handler=_train)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the subcommand: its exit status, 1 when a notebook failed. Bad
    input exits with status 2 and one line on stderr; an error while working propagates."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except UserError as exc:
        parser.exit(2, f"{parser.prog} {args.command}: error: {exc}\n")
