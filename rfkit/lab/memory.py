"""Peak memory of one generator operation, each measured in a fresh Python process.

A process's peak resident memory only ever grows, so two cases measured in one process would hide
each other. `peak_memory` starts one subprocess per case: it builds a generator and its inputs,
runs the operation once on a few rows (so that one-time library buffers are not counted), notes
the memory it holds, runs one training step or one generation on all rows, and reports how far
the peak rose above what it held before. On Linux the peak is first reset to the memory held
(through /proc/self/clear_refs), so an earlier peak, e.g. from imports, cannot hide the rise. The
spec's troubleshooting advice for "out of memory" (gradient checkpointing), the kit's chunked
generation and its ``max_train_rows`` are checked with it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

import rfkit

CAP_ROWS = 65536
CAPPED_STEP = f"training step, max_train_rows {CAP_ROWS}"
# What each case sets on the generator: the operation and its memory knobs.
CASES: dict[str, dict[str, Any]] = {
    "training step": {"operation": "train"},
    "training step, gradient checkpointing": {"operation": "train", "gradient_checkpointing": True},
    CAPPED_STEP: {"operation": "train", "max_train_rows": CAP_ROWS},
    "generation in one chunk": {"operation": "generate", "chunk_size": None},
    "generation in chunks of 8192 rows": {"operation": "generate", "chunk_size": 8192},
}

_SCRIPT = """
import json, resource, sys, time
import torch
from rfkit.generator import RFEmbeddingGenerator
a = json.loads(sys.argv[1])
torch.set_num_threads(1)
torch.manual_seed(0)
rows, dim = a["rows"], a["embedding_dim"]
conditions = [torch.randn(rows, dim) for _ in range(a["n_conditions"])]
generator = RFEmbeddingGenerator(dim, hidden_dim=a["hidden_dim"], condition_dim=dim * len(conditions),
                                 gradient_checkpointing=a["gradient_checkpointing"],
                                 chunk_size=a["chunk_size"] or rows, max_train_rows=a["max_train_rows"])
targets, prior = torch.randn(rows, dim), torch.randn(rows, dim)
few = slice(0, 64)  # a first small step and generation: one-time library buffers are not counted
generator.compute_loss_and_step(targets[few], [c[few] for c in conditions], user_prior=prior[few])
generator.generate([c[few] for c in conditions], a["n_steps"])
def status(key):  # a /proc/self/status line in bytes (Linux)
    return next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith(key))
try:  # Linux: reset the peak to the memory held now, then read the new peak
    open("/proc/self/clear_refs", "w").write("5")
    before, peak = status("VmRSS:"), lambda: status("VmHWM:")
except OSError:  # elsewhere: the peak so far, which may hide a rise smaller than an earlier peak
    unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit
    before = peak()
start = time.perf_counter()
if a["operation"] == "train":
    generator.compute_loss_and_step(targets, conditions, user_prior=prior)
else:
    generator.generate(conditions, a["n_steps"])
seconds = time.perf_counter() - start
print(json.dumps({"before": before, "after": peak(), "seconds": seconds}))
"""


def peak_memory(case: str, rows: int, embedding_dim: int = 64, hidden_dim: int = 128, n_conditions: int = 2,
                n_steps: int = 2, timeout: float = 600.0) -> dict[str, Any]:
    """Peak memory of one `CASES` operation on `rows` rows, measured in its own Python process.

    Returns the case, its settings, ``peak_mib``: how far the process's peak resident memory rose
    above what it held with the generator and its inputs built (MiB), and the operation's
    ``seconds``. Generation memory does not grow with `n_steps` (the solver updates the state in
    place), so a few steps suffice.
    """
    if case not in CASES:
        raise ValueError(f"case must be one of {sorted(CASES)}, got {case!r}")
    for name, value in (("rows", rows), ("embedding_dim", embedding_dim), ("hidden_dim", hidden_dim),
                        ("n_conditions", n_conditions), ("n_steps", n_steps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    settings = {"gradient_checkpointing": False, "chunk_size": 8192, "max_train_rows": None, **CASES[case]}
    arguments = {"rows": rows, "embedding_dim": embedding_dim, "hidden_dim": hidden_dim,
                 "n_conditions": n_conditions, "n_steps": n_steps, **settings}
    package_root = str(Path(rfkit.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", _SCRIPT, json.dumps(arguments)], capture_output=True,
                          text=True, env=env, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"measuring {case!r} on {rows} rows failed: {done.stderr.strip().splitlines()[-1:]}")
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    return {"case": case, "rows": rows, "hidden_dim": hidden_dim, **settings,
            "chunk_size": settings["chunk_size"] or rows,
            "peak_mib": (measured["after"] - measured["before"]) / 2**20, "seconds": measured["seconds"]}


def default_cases(rows: int) -> list[str]:
    """The `CASES` worth measuring on `rows` rows: all, less `CAPPED_STEP` when the cap takes every row."""
    return [case for case in CASES if case != CAPPED_STEP or rows > CAP_ROWS]


def memory_table(rows: int, cases: Sequence[str] | None = None, workers: int = 1, **options: Any) -> pd.DataFrame:
    """`peak_memory` of every case (default: `default_cases`), one process each and `workers` at a
    time, one row each in case order."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive int, got {workers!r}")
    with ThreadPoolExecutor(workers) as pool:
        return pd.DataFrame(list(pool.map(lambda case: peak_memory(case, rows, **options),
                                           cases or default_cases(rows))))
