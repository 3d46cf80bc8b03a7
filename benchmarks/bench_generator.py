"""Generator speed and memory on this machine; prints one table (quoted in the README).

Rows: generate() throughput against a plain Euler loop over the same velocity net, as a share
of the measured fp32 matmul rate, the optional bf16 autocast path, peak extra memory on 1e6
rows, and one compute_loss_and_step on 1e4 rows. Run: `python benchmarks/bench_generator.py`.
"""
from __future__ import annotations

import argparse
import gc
import platform
import resource
import threading
import time

import psutil
import torch
import torch.nn.functional as F

from rfkit import RFEmbeddingGenerator

EMB, COND, HIDDEN, STEPS = 64, 128, 256, 10


def best_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def matmul_rate(n: int = 2048, repeats: int = 10) -> float:
    """Measured fp32 GEMM rate in FLOP/s (the ceiling generate() chases)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n**3 / best_time(lambda: a @ b, repeats)


def generate_flops(gen: RFEmbeddingGenerator, rows: int) -> float:
    """Multiply-adds of one generate() call, counted as 2 FLOPs each."""
    per_step = EMB * HIDDEN + (gen.n_layers - 1) * HIDDEN * HIDDEN + HIDDEN * EMB
    return 2.0 * rows * (STEPS * per_step + COND * HIDDEN)


@torch.no_grad()
def plain_euler(net, x0, c, n_steps: int):
    """The straightforward loop: the whole net on all rows at every step."""
    x = x0.clone()
    dt = 1.0 / n_steps
    for i in range(n_steps):
        t = torch.full((len(x),), i * dt)
        x = x + dt * net(x, t, c)
    return x


def peak_rss_during(fn) -> tuple[int, object]:
    """Peak resident memory growth (bytes) while fn runs, sampled every millisecond."""
    proc = psutil.Process()
    gc.collect()
    base = proc.memory_info().rss
    peak = [base]
    done = threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.001)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = fn()
    finally:
        done.set()
        watcher.join()
    peak[0] = max(peak[0], proc.memory_info().rss)
    return peak[0] - base, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
    big = 100_000 if args.quick else 1_000_000

    torch.manual_seed(0)
    gen = RFEmbeddingGenerator(EMB, hidden_dim=HIDDEN, sampling_steps=STEPS, condition_dim=COND).eval()
    net = gen.net.eval()
    peak = matmul_rate()
    rows_out = []
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; fp32 matmul rate {peak / 1e9:.1f} GFLOP/s")

    for n in sizes:
        c, x0 = torch.randn(n, COND), torch.randn(n, EMB)
        repeats = 5 if n <= 10_000 else 2
        t_plain = best_time(lambda: plain_euler(net, x0, c, STEPS), repeats)
        t_fast = best_time(lambda: gen.generate([c], start_noise=x0), repeats)
        t_bf16 = best_time(lambda: gen.generate([c], start_noise=x0, bf16=True), repeats)
        ref = gen.generate([c], start_noise=x0)
        cos_plain = F.cosine_similarity(plain_euler(net, x0, c, STEPS), ref).min().item()
        cos_bf16 = F.cosine_similarity(gen.generate([c], start_noise=x0, bf16=True), ref).mean().item()
        rows_out.append({
            "rows": n,
            "plain rows/s": n / t_plain,
            "generate rows/s": n / t_fast,
            "speed-up": t_plain / t_fast,
            "% of matmul peak": 100 * generate_flops(gen, n) / t_fast / peak,
            "bf16 speed-up": t_plain / t_bf16,
            "bf16 mean cos": cos_bf16,
            "min cos vs plain": cos_plain,
        })

    print()
    header = list(rows_out[0])
    print(" | ".join(f"{h:>16}" for h in header))
    for r in rows_out:
        print(" | ".join(f"{r[h]:>16,.0f}" if "rows" in h else f"{r[h]:>16.4f}" if "cos" in h else f"{r[h]:>16.2f}"
                         for h in header))

    c_big = torch.randn(big, COND)
    out_bytes = big * EMB * 4
    extra, _ = peak_rss_during(lambda: gen.generate([c_big], generator=torch.Generator().manual_seed(0)))
    print(f"\npeak extra memory of generate() on {big:,} rows: {extra / 2**20:,.0f} MiB "
          f"= {extra / out_bytes:.2f}x the output ({out_bytes / 2**20:,.0f} MiB); target < 2x")

    train_gen = RFEmbeddingGenerator(EMB, hidden_dim=HIDDEN, condition_dim=COND)
    target, cond = torch.randn(10_000, EMB), torch.randn(10_000, COND)
    t_step = best_time(lambda: train_gen.compute_loss_and_step(target, [cond]), 5)
    print(f"one compute_loss_and_step on 10,000 rows: {t_step * 1e3:.1f} ms")
    print(f"(max RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10:,.0f} MiB)")


if __name__ == "__main__":
    main()
