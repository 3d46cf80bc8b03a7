"""CPU and a GPU agree: test metrics of two `python -m rfkit train --json` runs and generated
embeddings of one RF model computed on both devices.

    python benchmarks/gpu_agreement.py --metrics cpu.json cuda.json --device cuda

Thresholds (issue 11): every test metric of every model differs by at most 0.005, and the RF
embeddings generated on the device from the same weights and noise have cosine > 0.999 with the
CPU's on every row. Prints one line per check; exits 1 when one fails.
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from rfkit.data import load
from rfkit.machine import resolve_device
from rfkit.models import MultimodalGCN

MAX_METRIC_DIFF, MIN_COSINE = 0.005, 0.999
RF_STEPS = 20


def metric_gap(cpu_json: Path, device_json: Path) -> tuple[float, str]:
    """Largest |test metric difference| over models and metrics, and where it is."""
    cpu, other = (json.loads(Path(p).read_text())["models"] for p in (cpu_json, device_json))
    if set(cpu) != set(other):
        raise ValueError(f"the runs trained different models: {sorted(cpu)} vs {sorted(other)}")
    gaps = {f"{model} test {name} (best epoch {cpu[model]['best_epoch']} vs "
            f"{other[model]['best_epoch']})": abs(value - other[model]["test"][name])
            for model in cpu for name, value in cpu[model]["test"].items()}
    where = max(gaps, key=gaps.get)
    return gaps[where], where


def embedding_cosine(device: torch.device) -> float:
    """Min row cosine between RF embeddings generated on the CPU and on ``device``.

    An RF MultimodalGCN on the small synthetic preset takes RF_STEPS training steps on the CPU,
    then a copy moves to ``device``; both generate from the model's fixed start noise.
    """
    dataset = load("synthetic", preset="small")
    torch.manual_seed(0)
    model = MultimodalGCN({"use_rf": True, "rf_warmup_epochs": 0}, dataset)
    for _ in range(RF_STEPS):
        model.forward(train=True)
    moved = copy.deepcopy(model).to(device)
    with torch.no_grad():
        embeddings = [m.rf_generator.generate(m.modality_conditions(), start_noise=m.rf_start_noise)
                      for m in (model, moved)]
    return F.cosine_similarity(embeddings[0], embeddings[1].cpu()).min().item()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--metrics", nargs=2, type=Path, metavar=("CPU_JSON", "DEVICE_JSON"),
                        help="the --json outputs of the CLI on the CPU and on the device")
    parser.add_argument("--device", default="cuda", help="the device to compare with the CPU")
    args = parser.parse_args()
    try:
        device = resolve_device(args.device)
    except ValueError as exc:
        parser.error(str(exc))
    ok = True
    if args.metrics:
        gap, where = metric_gap(*args.metrics)
        ok &= gap <= MAX_METRIC_DIFF
        print(f"metrics: max |CPU - {device}| = {gap:.4f} at {where}; "
              f"{'ok' if gap <= MAX_METRIC_DIFF else 'FAIL'} (<= {MAX_METRIC_DIFF})")
    cosine = embedding_cosine(device)
    ok &= cosine > MIN_COSINE
    print(f"embeddings: min cosine CPU vs {device} = {cosine:.6f}; "
          f"{'ok' if cosine > MIN_COSINE else 'FAIL'} (> {MIN_COSINE})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
