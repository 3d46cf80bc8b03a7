"""``python -m rfkit``: ``report`` runs the notebooks into an HTML report; ``train`` compares the
multimodal backbone with and without RF on one dataset."""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from rfkit.data import Dataset, load
from rfkit.device import describe_devices, resolve_device
from rfkit.models import MultimodalGCN
from rfkit.train import train

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "multimodal.yaml"
SYNTHETIC_PRESET = "small"
TABLE_METRICS = ("recall@10", "recall@20", "ndcg@10", "ndcg@20")


def _report(args: argparse.Namespace) -> int:
    # Imported here so that `train` runs without the Jupyter stack (papermill, nbconvert).
    from rfkit.report import run_reports, summary_table

    parameters = {} if args.seed is None else {"SEED": args.seed}
    reports = run_reports(args.notebooks, args.output, quick=args.quick, only=args.only,
                          figures_dir=args.figures, parameters=parameters,
                          progress=not args.no_progress)
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
    config = yaml.safe_load(path.read_text()) or {}
    if not isinstance(config, dict):
        raise ValueError(f"--config {str(path)!r} must hold a YAML mapping, "
                         f"got {type(config).__name__}")
    return config


def compare_rf(dataset: Dataset, config: Mapping[str, Any], epochs: int, seed: int, with_rf: bool,
               progress: bool = True) -> dict[str, dict[str, Any]]:
    """Train MultimodalGCN without RF and (if ``with_rf``) with RF on the same data and seed,
    on the config's ``device``.

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
    config = load_config(args.config)
    seed = args.seed if args.seed is not None else config.get("seed", 0)
    device = resolve_device(config.get("device", "auto") if args.device is None else args.device)
    config = {**config, "device": str(device)}
    with_rf = not args.no_rf and bool(config.get("use_rf", True))
    dataset = (load("synthetic", preset=SYNTHETIC_PRESET) if args.dataset == "synthetic"
               else load(args.dataset))
    if not args.no_progress:
        print(f"device {device} ({describe_devices()})", file=sys.stderr)
    outcome = compare_rf(dataset, config, args.epochs, seed, with_rf, not args.no_progress)
    print(metrics_table(outcome).to_string())
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"dataset": dataset.name, "config": config, "epochs": args.epochs,
                   "seed": seed, "models": outcome}
        args.json.write_text(json.dumps(payload, indent=2))
        print(f"metrics and history: {args.json}")
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
    training.add_argument("--config", type=Path, metavar="YAML",
                       help="model and rf_* keys (default: configs/multimodal.yaml if present)")
    training.add_argument("--epochs", type=_positive_int, default=50, help="maximum epochs")
    training.add_argument("--seed", type=int, help="model and training seed (default: config's)")
    training.add_argument("--no-rf", action="store_true", help="train the backbone only")
    training.add_argument("--device", metavar="{auto,cpu,cuda,cuda:N}",
                       help="where to train and score; auto = cuda when available "
                            "(default: config's device, else auto)")
    training.add_argument("--json", type=Path, metavar="OUT",
                       help="write metrics and per-epoch history here")
    training.add_argument("--no-progress", action="store_true", help="hide progress bars")
    training.set_defaults(handler=_train)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the subcommand; bad input exits with status 2 and a message."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except ValueError as exc:
        parser.exit(2, f"{parser.prog} {args.command}: error: {exc}\n")
