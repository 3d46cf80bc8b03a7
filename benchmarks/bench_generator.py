"""Generator speed and memory on this machine; prints one table (quoted in the README).

Rows: generate() throughput against a plain Euler loop over the same velocity net, as a share
of the measured fp32 matmul rate, the optional bf16 autocast path (also as a share of the
measured bf16 matmul rate), peak extra memory on 1e6 rows, and one compute_loss_and_step on
1e4 rows. Run: `python benchmarks/bench_generator.py [--device cuda]` (default: the CPU).
On a GPU, times are taken after synchronizing the device and memory is CUDA's peak allocation.
"""
from __future__ import annotations

import argparse
import gc
import json
import resource
import threading
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from rfkit import RFEmbeddingGenerator
from rfkit.machine import cpu_model, describe_devices, native_bf16, resolve_device

EMB, COND, HIDDEN, STEPS = 64, 128, 256, 10


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so wall-clock times cover it (no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_time(fn, repeats: int, device: torch.device = torch.device("cpu")) -> float:
    fn()  # warm-up
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return min(times)


def matmul_rate(device: torch.device, dtype: torch.dtype = torch.float32, repeats: int = 10) -> float:
    """Measured GEMM rate in FLOP/s (the ceiling generate() chases); larger on a GPU to fill it."""
    n = 8192 if device.type == "cuda" else 2048
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    return 2 * n**3 / best_time(lambda: a @ b, repeats, device)


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
        t = torch.full((len(x),), i * dt, device=x.device)
        x = x + dt * net(x, t, c)
    return x


def peak_rss_during(fn) -> tuple[int, object]:
    """Peak resident memory growth (bytes) while fn runs, sampled every millisecond."""
    import psutil  # only the CPU run needs it; a GPU machine may lack it

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


def peak_cuda_during(fn, device: torch.device) -> tuple[int, object]:
    """Peak CUDA allocation growth (bytes) while fn runs."""
    synchronize(device)
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    result = fn()
    synchronize(device)
    return torch.cuda.max_memory_allocated(device) - base, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--device", default="cpu", metavar="{auto,cpu,cuda,cuda:N}",
                        help="where to run (default: cpu)")
    parser.add_argument("--json", type=Path, metavar="OUT",
                        help="also write the table and notes here (FINDINGS.md's benchmark tables read "
                             "benchmarks/results/*.json)")
    args = parser.parse_args()
    try:
        device = resolve_device(args.device)
    except ValueError as exc:
        parser.error(str(exc))
    on_gpu = device.type == "cuda"
    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
    if on_gpu and not args.quick:
        sizes.append(1_000_000)  # a GPU needs many rows before it is busy
    big = 100_000 if args.quick else 1_000_000

    torch.manual_seed(0)
    gen = RFEmbeddingGenerator(EMB, hidden_dim=HIDDEN, sampling_steps=STEPS, condition_dim=COND).to(device).eval()
    net = gen.net.eval()
    peak = matmul_rate(device)
    peak_bf16 = matmul_rate(device, torch.bfloat16, repeats=10 if on_gpu else 3)
    rows_out = []
    where = (torch.cuda.get_device_name(device) if on_gpu
             else f"{cpu_model()}, {torch.get_num_threads()} threads")
    machine = (f"{where}, native bf16 {'yes' if native_bf16(device) else 'no'}, torch {torch.__version__} "
               f"({describe_devices()})")
    rates = f"fp32 matmul rate {peak / 1e9:.1f} GFLOP/s, bf16 matmul rate {peak_bf16 / 1e9:.1f} GFLOP/s"
    print(f"machine: {machine}\n{rates}")

    for n in sizes:
        c, x0 = torch.randn(n, COND, device=device), torch.randn(n, EMB, device=device)
        repeats = 5 if n <= 10_000 or on_gpu else 2
        t_plain = best_time(lambda: plain_euler(net, x0, c, STEPS), repeats, device)
        t_fast = best_time(lambda: gen.generate([c], start_noise=x0), repeats, device)
        t_bf16 = best_time(lambda: gen.generate([c], start_noise=x0, bf16=True), repeats, device)
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
            "bf16 % of peak": 100 * generate_flops(gen, n) / t_bf16 / peak_bf16,
            "bf16 mean cos": cos_bf16,
            "min cos vs plain": cos_plain,
        })

    print()
    header = list(rows_out[0])
    print(" | ".join(f"{h:>16}" for h in header))
    for r in rows_out:
        print(" | ".join(f"{r[h]:>16,.0f}" if "rows" in h else f"{r[h]:>16.4f}" if "cos" in h else f"{r[h]:>16.2f}"
                         for h in header))

    c_big = torch.randn(big, COND, device=device)
    out_bytes = big * EMB * 4
    seeded = torch.Generator(device).manual_seed(0)
    run_big = lambda: gen.generate([c_big], generator=seeded)  # noqa: E731
    extra, _ = peak_cuda_during(run_big, device) if on_gpu else peak_rss_during(run_big)
    memory = (f"peak extra {'CUDA' if on_gpu else 'resident'} memory of generate() on {big:,} rows: "
              f"{extra / 2**20:,.0f} MiB = {extra / out_bytes:.2f}x the output ({out_bytes / 2**20:,.0f} MiB); "
              "target < 2x")
    print(f"\n{memory}")

    train_gen = RFEmbeddingGenerator(EMB, hidden_dim=HIDDEN, condition_dim=COND).to(device)
    target, cond = torch.randn(10_000, EMB, device=device), torch.randn(10_000, COND, device=device)
    t_step = best_time(lambda: train_gen.compute_loss_and_step(target, [cond]), 5, device)
    step = f"one compute_loss_and_step on 10,000 rows: {t_step * 1e3:.1f} ms"
    print(step)
    print(f"(max RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10:,.0f} MiB)")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        title = f"Generator benchmark: benchmarks/bench_generator.py --device {args.device}"
        rounded = [{k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()} for row in rows_out]
        args.json.write_text(json.dumps({"title": title, "machine": machine, "table": rounded,
                                         "notes": [rates, memory, step]}, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
