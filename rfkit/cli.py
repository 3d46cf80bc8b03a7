"""``python -m rfkit``: ``report`` runs the notebooks into an HTML report; ``train`` compares the
multimodal backbone with and without RF on one dataset (with ``--cold-start``: the cold-item
methods of ``rfkit.cold``); ``readme`` regenerates README.md's measured blocks from the result files."""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from rfkit import config, readme
from rfkit.cold import evaluate_cold_methods
from rfkit.data import Dataset, cold_start, load
from rfkit.models import MultimodalGCN
from rfkit.report import run_reports, summary_table
from rfkit.train import train

SYNTHETIC_PRESET = "small"
TABLE_METRICS = ("recall@10", "recall@20", "ndcg@10", "ndcg@20")


def _report(args: argparse.Namespace) -> int:
    parameters = {} if args.seed is None else {"SEED": args.seed}
    reports = run_reports(args.notebooks, args.output, quick=args.quick, only=args.only,
                          figures_dir=args.figures, parameters=parameters,
                          progress=not args.no_progress)
    print(summary_table(reports).to_string(index=False))
    for report in reports:
        if report.error:
            print(f"\n{report.name} failed at {report.error}", file=sys.stderr)
    print(f"\nreport: {Path(args.output) / 'index.html'}")
    if args.figures is not None and not args.quick:
        publish_results(reports, Path(args.figures))
    return int(any(r.status == "failed" for r in reports))


def publish_results(reports: Sequence[Any], figures_dir: Path) -> None:
    """Copy each successful full run's results.json next to its figures and refresh the README's
    measured block from them (the README then quotes what the code computed)."""
    for report in reports:
        if report.status == "ok":
            shutil.copyfile(report.output_dir / "results.json", figures_dir / report.name / "results.json")
    readme_path = Path("README.md")
    if readme_path.is_file() and readme.refresh(readme_path, figures_dir):
        print(f"{readme_path}: measured block updated from {figures_dir}/*/results.json")


def read_config(path: str | None) -> dict[str, Any]:
    """The config at ``path`` (see `rfkit.config.load`); without a path, the packaged "multimodal"."""
    return config.load("multimodal" if path is None else path)


def compare_rf(dataset: Dataset, config: Mapping[str, Any], epochs: int, seed: int, with_rf: bool,
               progress: bool = True) -> dict[str, dict[str, Any]]:
    """Train MultimodalGCN without RF and (if ``with_rf``) with RF on the same data and seed.

    Per model: best epoch, valid and test metrics at it, training seconds and the per-epoch
    history (list of records, NaN as None).
    """
    variants = {"MultimodalGCN": False, **({"MultimodalGCN+RF": True} if with_rf else {})}
    outcome = {}
    for name, use_rf in variants.items():
        model = MultimodalGCN({**config, "use_rf": use_rf, "seed": seed}, dataset)
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
    settings = read_config(args.config)
    seed = args.seed if args.seed is not None else settings.get("seed", 0)
    with_rf = not args.no_rf and bool(settings.get("use_rf", True))
    dataset = (load("synthetic", preset=SYNTHETIC_PRESET) if args.dataset == "synthetic"
               else load(args.dataset))
    if args.cold_start is not None:
        return _train_cold(args, settings, seed, dataset)
    outcome = compare_rf(dataset, settings, args.epochs, seed, with_rf, not args.no_progress)
    print(metrics_table(outcome).to_string())
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"dataset": dataset.name, "config": settings, "epochs": args.epochs,
                   "seed": seed, "models": outcome}
        args.json.write_text(json.dumps(payload, indent=2))
        print(f"metrics and history: {args.json}")
    return 0


def _train_cold(args: argparse.Namespace, config: dict[str, Any], seed: int,
                dataset: Dataset) -> int:
    """Cold/warm/all metrics of every cold-item method on the multimodal host (see rfkit.cold)."""
    if args.no_rf:
        raise ValueError("--no-rf and --cold-start exclude each other: cold start compares "
                         "the backbone with every generator")
    dataset = cold_start(dataset, args.cold_start, seed)
    table = evaluate_cold_methods(dataset, "multimodal", config, seed,
                                  {"epochs": args.epochs, "progress": not args.no_progress},
                                  ks=(10, 20))
    print(table.drop(columns=["dataset", "host", "seed"]).set_index("method").round(4).to_string())
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"dataset": dataset.name, "config": config, "epochs": args.epochs, "seed": seed,
                   "cold_start": args.cold_start, "methods": table.to_dict(orient="records")}
        args.json.write_text(json.dumps(payload, indent=2))
        print(f"metrics: {args.json}")
    return 0


def _readme(args: argparse.Namespace) -> int:
    changed = readme.refresh(args.readme, args.figures, args.benchmarks)
    print(f"{args.readme}: {'updated' if changed else 'already up to date'} from {args.figures}/*/results.json "
          f"and {args.benchmarks}/*.json")
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``report`` and ``train`` subcommands."""
    parser = argparse.ArgumentParser(prog="python -m rfkit", description=__doc__)
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
    training.add_argument("--config", metavar="YAML",
                       help="a YAML file of model and rf_* keys, or a packaged config name (default: multimodal)")
    training.add_argument("--epochs", type=_positive_int, default=50, help="maximum epochs")
    training.add_argument("--seed", type=int, help="model and training seed (default: config's)")
    training.add_argument("--no-rf", action="store_true", help="train the backbone only")
    training.add_argument("--cold-start", type=float, metavar="FRACTION",
                          help="make this fraction of items cold and report cold/warm/all metrics "
                               "of the backbone and each generator variant")
    training.add_argument("--json", type=Path, metavar="OUT",
                       help="write metrics and per-epoch history here")
    training.add_argument("--no-progress", action="store_true", help="hide progress bars")
    training.set_defaults(handler=_train)
    refresh = commands.add_parser("readme", help="regenerate README.md's measured and benchmark blocks")
    refresh.add_argument("--readme", type=Path, default=Path("README.md"), help="default: README.md")
    refresh.add_argument("--figures", type=Path, default=Path("figures"),
                         help="folder of <notebook>/results.json files (default: figures)")
    refresh.add_argument("--benchmarks", type=Path, default=Path("benchmarks/results"),
                         help="folder of benchmark result files (default: benchmarks/results)")
    refresh.set_defaults(handler=_readme)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the subcommand; bad input exits with status 2 and a message."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except ValueError as exc:
        parser.exit(2, f"{parser.prog} {args.command}: error: {exc}\n")
