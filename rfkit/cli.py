"""``python -m rfkit``: ``report`` runs the notebooks into an HTML report; ``train`` compares the
multimodal backbone with and without RF on one dataset (with ``--cold-start``: the cold-item
methods of ``rfkit.experiments.cold``); ``readme`` regenerates README.md's key findings and FINDINGS.md from the result files.

Bad input (arguments, config, dataset, notebook selection) is found before any work starts and
reported in one line with exit status 2; a run that fails while working exits with status 1.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import pandas as pd
import yaml

from rfkit import config
from rfkit.data import Dataset, cold_start, load
from rfkit.experiments.cold import evaluate_cold_methods
from rfkit.experiments.compare import WITH_RF, build_models, compare_rf, epoch_overhead, reference_outcome
from rfkit.experiments.run_cache import CACHE_VARIABLE
from rfkit.generator import GeneratorHealth
from rfkit.machine import describe_devices, resolve_device
from rfkit.publish import readme
from rfkit.publish.lessons import EXECUTED_DIR, publish_lesson
from rfkit.publish.provenance import provenance

PROG = "python -m rfkit"
DEFAULT_CONFIG = "recommended"
DEFAULT_RUN_CACHE = ".cache/runs"
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
    # Imported here so that `train` runs without the Jupyter stack (papermill, nbconvert).
    from rfkit.publish.report import run_notebooks, select_notebooks, summary_table

    parameters = {} if args.seed is None else {"SEED": args.seed}
    with user_input():
        paths = select_notebooks(args.notebooks, args.only, args.quick, parameters)
        _check_output("--output", Path(args.output), folder=True)
        _check_output("--cache", Path(args.cache), folder=True)
    if not args.no_cache:  # the notebooks' kernels and their worker processes inherit it
        os.environ[CACHE_VARIABLE] = str(Path(args.cache).resolve())
    reports = run_notebooks(paths, args.output, quick=args.quick, figures_dir=args.figures,
                            parameters=parameters, progress=not args.no_progress)
    print(summary_table(reports).to_string(index=False))
    for report in reports:
        if report.error:
            print(f"\n{report.name} failed at {report.error}", file=sys.stderr)
    print(f"\nreport: {Path(args.output) / 'index.html'}")
    if args.figures is not None and not args.quick:
        publish_results(reports, Path(args.figures), Path(args.notebooks) / EXECUTED_DIR)
    return int(any(r.status == "failed" for r in reports))


def publish_results(reports: Sequence[Any], figures_dir: Path, lessons_dir: Path) -> None:
    """Copy each successful full run's results.json next to its figures and its executed notebook
    to ``lessons_dir`` (`rfkit.publish.lessons`), then refresh the README's generated blocks from
    them (the README then quotes what the code computed)."""
    for report in reports:
        if report.status == "ok":
            shutil.copyfile(report.output_dir / "results.json", figures_dir / report.name / "results.json")
            publish_lesson(report.notebook, report.source_sha256, report.provenance,
                           report.results.get("runtime_s"), lessons_dir)
    readme_path = Path("README.md")
    if readme_path.is_file() and readme.refresh(readme_path, figures_dir):
        print(f"{readme_path} and FINDINGS.md: updated from {figures_dir}/*/results.json")


def read_config(path: str | None) -> dict[str, Any]:
    """The config at ``path`` (see `rfkit.config.load`); without a path, the packaged "recommended"
    (the spec's example with the cost knobs; ``--config multimodal`` is the spec-literal integration)."""
    return config.load(DEFAULT_CONFIG if path is None else path)


def metrics_table(outcome: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Rows: model; columns: valid/test recall and ndcg @10/@20 (empty for a run that failed
    before its first evaluation), best epoch, seconds, status."""
    rows = {name: {**{f"{split}_{m}": (run[split] or {}).get(m) for split in ("valid", "test")
                      for m in TABLE_METRICS}, "status": run["status"],
                   "best_epoch": run["best_epoch"], "seconds": round(run["seconds"], 1)}
            for name, run in outcome.items()}
    return pd.DataFrame.from_dict(rows, orient="index").round(4)


def _require_cornac() -> None:
    """--references needs Cornac: without it, one line that names the extra."""
    try:
        import rfkit.integrations.cornac  # noqa: F401
    except ImportError as exc:
        raise UserError(f"--references: {exc}") from exc


def _train(args: argparse.Namespace) -> int:
    if args.mapper_fits is not None and args.cold_start is None:
        raise UserError("--mapper-fits needs --cold-start: only the cold-item methods fit mappers")
    if args.references:
        _require_cornac()
    with user_input("--config"):
        settings = read_config(args.config)
        if args.json is not None:
            _check_output("--json", args.json, folder=False)
    seed = args.seed if args.seed is not None else settings.get("seed", 0)
    with user_input():
        device = resolve_device(settings.get("device", "auto") if args.device is None else args.device)
    settings = {**settings, "device": str(device)}
    with_rf = not args.no_rf and bool(settings.get("use_rf", True))
    with user_input("--dataset"):
        dataset = (load("synthetic", preset=SYNTHETIC_PRESET) if args.dataset == "synthetic"
                   else load(args.dataset))
    if args.cold_start is not None:
        return _train_cold(args, settings, seed, dataset)
    with user_input():
        models = build_models(dataset, settings, seed, with_rf)
    if not args.no_progress:  # after every input check, so a user error stays one line
        print(f"device {device} ({describe_devices()})", file=sys.stderr)
    outcome = compare_rf(models, dataset, args.epochs, seed, not args.no_progress)
    references = reference_outcome(dataset, seed, not args.no_progress) if args.references else {}
    print(metrics_table({**outcome, **references}).to_string())
    if references:
        print("references: Cornac's models on the same split and seed, scored by rfkit.metrics "
              "(full ranking, training items masked); EASE " + references["EASE"]["chosen"] + " on validation")
    warmup = models[WITH_RF].rf_generator.warmup_epochs if with_rf else 0
    overhead = epoch_overhead(outcome, warmup)
    if overhead is not None:
        print(f"seconds per epoch over the {overhead['epochs']} epoch(s) after the {warmup}-epoch RF warmup: "
              f"backbone {overhead['backbone_s_per_epoch']:.3f}, with RF {overhead['rf_s_per_epoch']:.3f} "
              f"(RF adds {overhead['overhead']:+.1%})")
    health = {name: run["generator_health"] for name, run in outcome.items() if "generator_health" in run}
    for name, record in health.items():
        print(f"{name} {GeneratorHealth.from_record(record).sentence()}; "
              f"{outcome[name]['rf_steps_taken']} RF optimizer steps")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"dataset": dataset.name, "config": settings, "epochs": args.epochs,
                   "seed": seed, "models": outcome, "references": references, "epoch_overhead": overhead,
                   "generator_health": health.get(WITH_RF),
                   "provenance": provenance(device=str(device), config=settings)}
        args.json.write_text(json.dumps(payload, indent=2))
        print(f"metrics and history: {args.json}")
    failed = [(name, run["reason"]) for name, run in outcome.items() if run["status"] != "ok"]
    for name, reason in failed:
        print(f"{PROG} train: {name} failed: {' '.join(reason.split())}", file=sys.stderr)
    return 1 if failed else 0


def _train_cold(args: argparse.Namespace, config: dict[str, Any], seed: int,
                dataset: Dataset) -> int:
    """Cold/warm/all metrics of every cold-item method on the multimodal host (see rfkit.experiments.cold)."""
    with user_input("--cold-start"):
        if args.no_rf:
            raise ValueError("--no-rf and --cold-start exclude each other: cold start compares "
                             "the backbone with every generator")
        dataset = cold_start(dataset, args.cold_start, seed)
    mapper_fits = args.mapper_fits or 1  # None: the flag was not given
    table = evaluate_cold_methods(dataset, "multimodal", config, seed,
                                  {"epochs": args.epochs, "progress": not args.no_progress},
                                  ks=(10, 20), references=args.references, mapper_fits=mapper_fits)
    print(table.drop(columns=["dataset", "host", "seed"]).set_index("method").round(4).to_string())
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"dataset": dataset.name, "config": config, "epochs": args.epochs, "seed": seed,
                   "cold_start": args.cold_start, "mapper_fits": mapper_fits,
                   "methods": table.to_dict(orient="records")}
        args.json.write_text(json.dumps(payload, indent=2))
        print(f"metrics: {args.json}")
    return 0


def _readme(args: argparse.Namespace) -> int:
    with user_input("--readme"):
        changed = readme.refresh(args.readme, args.figures, args.benchmarks)
    print(f"{args.readme}: {'updated' if changed else 'already up to date'} from {args.figures}/*/results.json "
          f"and {args.benchmarks}/*.json")
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
    parser = _Parser(prog=PROG, description=__doc__,
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
    report.add_argument("--cache", default=DEFAULT_RUN_CACHE, metavar="DIR",
                        help="run cache: identical trainings run once across notebooks and reports "
                             f"(default: {DEFAULT_RUN_CACHE})")
    report.add_argument("--no-cache", action="store_true", help="train everything afresh, cache nothing")
    report.set_defaults(handler=_report)

    training = commands.add_parser("train", help="train MultimodalGCN without and with RF")
    training.add_argument("--dataset", required=True, metavar="{movielens,synthetic,PATH}",
                       help=f"a named source (synthetic uses preset {SYNTHETIC_PRESET!r}) "
                            "or an MMRec folder")
    training.add_argument("--config", metavar="YAML",
                       help="a YAML file of model and rf_* keys, or a packaged config name (default: recommended; "
                            "multimodal = the spec-literal integration)")
    training.add_argument("--epochs", type=_positive_int, default=50, help="maximum epochs")
    training.add_argument("--seed", type=int, help="model and training seed (default: config's)")
    training.add_argument("--no-rf", action="store_true", help="train the backbone only")
    training.add_argument("--cold-start", type=float, metavar="FRACTION",
                          help="make this fraction of items cold and report cold/warm/all metrics "
                               "of the backbone and each generator variant")
    training.add_argument("--mapper-fits", type=_positive_int, metavar="K",
                          help="with --cold-start: fit each content mapper K times on the host and average "
                               "its methods' metrics over the fits (default: 1)")
    training.add_argument("--references", action="store_true",
                          help="also train Cornac's MostPop, BPR, EASE and VBPR on the same split and seed "
                               "(with --cold-start: VBPR's content part on the cold items); needs rfkit[cornac]")
    training.add_argument("--device", metavar="{auto,cpu,cuda,cuda:N}",
                       help="where to train and score; auto = cuda when available "
                            "(default: config's device, else auto)")
    training.add_argument("--json", type=Path, metavar="OUT",
                       help="write metrics and per-epoch history here")
    training.add_argument("--no-progress", action="store_true", help="hide progress bars")
    training.set_defaults(handler=_train)
    refresh = commands.add_parser("readme", help="regenerate README.md's key findings and FINDINGS.md")
    refresh.add_argument("--readme", type=Path, default=Path("README.md"), help="default: README.md")
    refresh.add_argument("--figures", type=Path, default=Path("figures"),
                         help="folder of <notebook>/results.json files (default: figures)")
    refresh.add_argument("--benchmarks", type=Path, default=Path("benchmarks/results"),
                         help="folder of benchmark result files (default: benchmarks/results)")
    refresh.set_defaults(handler=_readme)
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
