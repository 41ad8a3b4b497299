#!/usr/bin/env python3
"""The PyTorch peer of build/privrec-cuda-bench (issue 17).

What privrec's CUDA kernels are measured against: the same operations written the way a framework
writes them, on the same sizes as tests/benchmarks/cuda_kernels_bench.cpp (a 4 GB fp32 table; dense
update dims 32 and 128; embedding bags: 2048 x 26 bags of 20 lookups, dims 32..256 forward and 32,
128 backward, rows uniform or zipf 1.05 over a head of at most 2^22 rows, as kernel_bench.cu draws
them). Timed with CUDA events on the GPU (time.perf_counter on the CPU) after a warm-up; the median
of several runs. GB/s use the bytes privrec-cuda-bench counts for the benchmark each measurement is
paired with (1 GB = 1e9 bytes), so a peer's GB/s and privrec's read as the inverse of their times.

  torch_gpu_peer.py [--device cuda|cpu] [--json FILE] [--quick] [--only REGEX] [--dry-run]
  torch_gpu_peer.py --compare BENCH_JSON PEER_JSON [--out FILE] [--dry-run]

--compare prints privrec's kernels (Google Benchmark JSON from privrec-cuda-bench) and the peer's
side by side. --dry-run parses the arguments and prints the plan without importing torch (the
build machine may not have it; tools/gpu-run.sh --dry-run uses this); with --compare it renders the
table from a small made-up pair of files instead, to check the joining code.
"""
import argparse
import json
import math
import re
import statistics
import sys
import time

# tests/benchmarks/cuda_kernels_bench.cpp: kTableBytes, and the embedding benchmarks' batch and pooling.
TABLE_BYTES = 4 << 30
BAGS = 2048 * 26
POOLING = 20
DENSE_DIMS = (32, 128)
FORWARD_DIMS = (32, 64, 128, 256)
BACKWARD_DIMS = (32, 128)
ZIPF_X100 = (0, 105)  # the benchmarks' second argument: zipf exponent x 100, 0 for uniform
ZIPF_SUPPORT = 1 << 22  # kernel_bench.cu draw_rows: the head that carries nearly all the mass
LR, SIGMA = 0.01, 1.0  # the fused update's scale and stddev in kernel_bench.cu
GEMM_BATCH, GEMM_WIDTH = 8192, 1024  # BM_CudaGemm: a 1024 x 1024 layer at batch 8192


def plan(table_bytes, bags, pooling):
    """Every peer measurement: name, what it runs, and the privrec benchmarks (run names without
    /manual_time) it sits next to, each with the bytes that benchmark counts per iteration."""
    cases = [dict(name="copy", group="copy", what="dst.copy_(src)", dim=0, zipf=0,
                  pairs=[("BM_CudaCopy", 2 * table_bytes)])]
    for d in DENSE_DIMS:
        rows = table_bytes // 4 // d
        fused = ("BM_CudaFusedDenseNoisyUpdate/%d" % d, 2 * table_bytes + rows * 4)  # table in and out, slot map
        gta = ("BM_CudaGenerateThenAdd/%d" % d, 4 * table_bytes)  # noise out and in, table in and out
        cases.append(dict(name="randn_add/%d" % d, group="dense", dim=d, zipf=0, dense_grad=False,
                          what="table.add_(torch.randn_like(table), alpha=-lr*sigma)", pairs=[fused, gta]))
        cases.append(dict(name="framework_update/%d" % d, group="dense", dim=d, zipf=0, dense_grad=True,
                          what="noise = torch.randn_like(table); table.add_(grad_dense + sigma*noise, alpha=-lr)",
                          pairs=[fused]))
    for d in FORWARD_DIMS:
        for z in ZIPF_X100:
            cases.append(dict(name="embedding_bag_fwd/%d/%d" % (d, z), group="forward", dim=d, zipf=z,
                              what="F.embedding_bag(idx, table, offsets, mode='sum')",
                              pairs=[("BM_CudaEmbeddingForward/%d/%d" % (d, z), bags * pooling * d * 4)]))
    for d in BACKWARD_DIMS:
        for z in ZIPF_X100:
            for sparse in (True, False):
                kind = "sparse" if sparse else "dense"
                cases.append(dict(name="embedding_bag_bwd_%s/%d/%d" % (kind, d, z), group="backward", dim=d, zipf=z,
                                  sparse=sparse,
                                  what="out.backward(g) (%s gradient), then table.add_(table.grad, alpha=-lr)" % kind,
                                  pairs=[("BM_CudaEmbeddingBackwardUpdate/%d/%d" % (d, z), bags * pooling * d * 4)]))
    # The MLP's two products (BM_CudaGemm: product, own): privrec's gemm (cuBLAS where it loaded)
    # and its own SGEMM, both next to torch.mm; bytes: the three operands once.
    for product, what in ((0, "torch.mm(x, w): the forward, K = the layer's input"),
                          (1, "torch.mm(d.t(), x): the weight gradient, K = the batch")):
        M, K = (GEMM_WIDTH, GEMM_BATCH) if product else (GEMM_BATCH, GEMM_WIDTH)
        nbytes = 4 * (M * K + K * GEMM_WIDTH + M * GEMM_WIDTH)
        cases.append(dict(name="mm/%d" % product, group="gemm", dim=0, zipf=0, product=product, what=what,
                          pairs=[("BM_CudaGemm/%d/0" % product, nbytes), ("BM_CudaGemm/%d/1" % product, nbytes)]))
    return cases


def gbps(nbytes, ms):
    return nbytes / (ms / 1e3) / 1e9 if ms and ms > 0 else float("nan")


class Timer:
    """ms of fn() after setup(): CUDA events on the GPU (setup's kernels are queued before the start
    event, so they are not timed), time.perf_counter on the CPU."""

    def __init__(self, torch, device):
        self.torch, self.cuda = torch, device.type == "cuda"

    def once(self, fn, setup=None):
        if setup:
            setup()
        if self.cuda:
            start = self.torch.cuda.Event(enable_timing=True)
            stop = self.torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            stop.record()
            stop.synchronize()
            return start.elapsed_time(stop)
        t0 = time.perf_counter()
        fn()
        return (time.perf_counter() - t0) * 1e3

    def median(self, fn, setup, warmup, runs):
        for _ in range(warmup):
            self.once(fn, setup)
        times = [self.once(fn, setup) for _ in range(runs)]
        return statistics.median(times), times


def draw_indices(torch, device, rows, n, zipf_x100, gen):
    """Uniform rows, or zipf(s) by inverse CDF over the truncated harmonic sum (kernel_bench.cu)."""
    if zipf_x100 == 0:
        return torch.randint(0, rows, (n,), device=device, generator=gen, dtype=torch.int64)
    support = min(rows, ZIPF_SUPPORT)
    k = torch.arange(1, support + 1, device=device, dtype=torch.float64)
    cdf = torch.cumsum(k.pow(-zipf_x100 / 100.0), 0)
    u = torch.rand(n, device=device, generator=gen, dtype=torch.float64) * cdf[-1]
    return torch.searchsorted(cdf, u).clamp_(max=support - 1)


def run_case(torch, F, timer, device, c, a):
    """Times one case; returns (median ms, all runs' ms)."""
    d = c["dim"]
    rows = a.table_bytes // 4 // d if d else a.table_bytes // 4
    if c["group"] == "copy":
        src = torch.zeros(rows, device=device)
        dst = torch.empty_like(src)
        return timer.median(lambda: dst.copy_(src), None, a.warmup, a.runs)
    if c["group"] == "gemm":
        if c["product"] == 1:
            dz = torch.zeros(GEMM_BATCH, GEMM_WIDTH, device=device)
            x = torch.zeros(GEMM_BATCH, GEMM_WIDTH, device=device)
            return timer.median(lambda: torch.mm(dz.t(), x), None, a.warmup, a.runs)
        x = torch.zeros(GEMM_BATCH, GEMM_WIDTH, device=device)
        w = torch.zeros(GEMM_WIDTH, GEMM_WIDTH, device=device)
        return timer.median(lambda: torch.mm(x, w), None, a.warmup, a.runs)
    if c["group"] == "dense":
        table = torch.zeros(rows, d, device=device)
        if c["dense_grad"]:
            grad = torch.zeros_like(table)

            def step():
                noise = torch.randn_like(table)
                table.add_(grad + SIGMA * noise, alpha=-LR)
        else:
            def step():
                table.add_(torch.randn_like(table), alpha=-LR * SIGMA)
        return timer.median(step, None, a.warmup, a.runs)
    gen = torch.Generator(device=device)
    gen.manual_seed(7)
    n = a.bags * a.pooling
    idx = draw_indices(torch, device, rows, n, c["zipf"], gen)
    offsets = torch.arange(0, n, a.pooling, device=device, dtype=torch.int64)
    if c["group"] == "forward":
        table = torch.zeros(rows, d, device=device)

        def forward():
            with torch.no_grad():
                F.embedding_bag(idx, table, offsets, mode="sum")
        return timer.median(forward, None, a.warmup, a.runs)
    table = torch.zeros(rows, d, device=device, requires_grad=True)
    gout = torch.full((a.bags, d), 1e-3, device=device)
    state = {}

    def forward():  # untimed: the backward needs its graph
        table.grad = None
        state["out"] = F.embedding_bag(idx, table, offsets, mode="sum", sparse=c["sparse"])

    def backward_update():
        state["out"].backward(gout)
        with torch.no_grad():
            table.add_(table.grad, alpha=-LR)
    return timer.median(backward_update, forward, a.warmup, a.runs)


def print_peer_table(results, header=True):
    row = "%-34s %10s %9s  %-40s %s"
    if header:
        print(row % ("peer case", "median ms", "GB/s", "bytes as in", "what"))
    for r in results:
        if "error" in r:
            print(row % (r["name"], "-", "-", "", "ERROR: " + r["error"]))
            continue
        p = r["pairs"][0]
        print(row % (r["name"], "%.3f" % r["ms"], "%.1f" % p["GBps"], p["privrec"], r["what"]))


def run_peer(a):
    import torch
    import torch.nn.functional as F
    device = torch.device(a.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("torch_gpu_peer: torch %s sees no CUDA device" % torch.__version__, file=sys.stderr)
        return 2
    torch.manual_seed(7)
    timer = Timer(torch, device)
    info = dict(torch=torch.__version__, torch_cuda=torch.version.cuda, device=str(device),
                device_name=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                table_bytes=a.table_bytes, bags=a.bags, pooling=a.pooling, warmup=a.warmup, runs=a.runs,
                same_sizes_as_privrec=(a.table_bytes, a.bags, a.pooling) == (TABLE_BYTES, BAGS, POOLING),
                timing="CUDA events" if device.type == "cuda" else "time.perf_counter",
                date_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                bytes="per pair: the bytes privrec-cuda-bench counts for that benchmark; GB = 1e9 bytes")
    results = []
    for c in plan(a.table_bytes, a.bags, a.pooling):
        if a.only and not re.search(a.only, c["name"]):
            continue
        r = dict(name=c["name"], what=c["what"])
        try:
            ms, runs = run_case(torch, F, timer, device, c, a)
            r.update(ms=ms, runs_ms=runs,
                     pairs=[dict(privrec=p, bytes=b, GBps=gbps(b, ms)) for p, b in c["pairs"]])
        except RuntimeError as e:  # out of memory, a missing kernel: say so and go on
            r["error"] = str(e).splitlines()[0]
        results.append(r)
        if a.verbose:
            print_peer_table([r], header=False)
        if a.json:  # rewritten after every case, so a run killed by its time limit still leaves its results
            with open(a.json, "w") as f:
                json.dump(dict(info=info, results=results), f, indent=1)
        if device.type == "cuda":
            torch.cuda.empty_cache()
    print("PyTorch %s peer on %s (%s), median of %d after %d warm-up" %
          (info["torch"], info["device_name"], info["timing"], a.runs, a.warmup))
    print_peer_table(results)
    return 1 if any("error" in r for r in results) else 0


def privrec_medians(bench):
    """run name without /manual_time -> (ms, GB/s, error): the median aggregate where there is one,
    else the median over the plain iterations."""
    by, plain = {}, {}
    for b in bench.get("benchmarks", []):
        name = re.sub(r"/manual_time$", "", b.get("run_name", b.get("name", "")))
        unit = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}.get(b.get("time_unit", "ms"), 1.0)
        if b.get("error_occurred"):
            by[name] = (float("nan"), float("nan"), b.get("error_message", "error"))
        elif b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                by[name] = (b["real_time"] * unit, b.get("bytes_per_second", float("nan")) / 1e9, "")
        else:
            plain.setdefault(name, []).append((b["real_time"] * unit, b.get("bytes_per_second", float("nan")) / 1e9))
    for name, v in plain.items():
        if name not in by:
            by[name] = (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v), "")
    return by


def compare_table(bench, peer):
    pv = privrec_medians(bench)
    lines = []
    info = peer.get("info", {})
    lines.append("privrec CUDA kernels (privrec-cuda-bench, medians) against the PyTorch peer (torch %s, %s) on %s;"
                 % (info.get("torch", "?"), info.get("timing", "?"), info.get("device_name", "?")))
    lines.append("GB/s by privrec's byte accounting for the privrec benchmark on the row (1 GB = 1e9 B); "
                 "ratio: PyTorch ms / privrec ms (above 1: privrec is faster)")
    if not info.get("same_sizes_as_privrec", True):
        lines.append("NOTE: the peer ran at other sizes than privrec-cuda-bench (--quick or overrides): not comparable")
    fmt = "%-38s %9s %8s | %-32s %9s %8s | %6s"
    lines.append(fmt % ("privrec benchmark", "ms", "GB/s", "PyTorch peer", "ms", "GB/s", "ratio"))
    for r in peer.get("results", []):
        if "error" in r:
            lines.append(fmt % ("", "", "", r["name"], "ERROR", "", "") + "  " + r["error"])
            continue
        for p in r["pairs"]:
            ms, g, err = pv.get(p["privrec"], (float("nan"), float("nan"), "not in the bench JSON"))
            ratio = r["ms"] / ms if ms == ms and ms > 0 else float("nan")
            row = fmt % (p["privrec"], "%.3f" % ms, "%.1f" % g, r["name"], "%.3f" % r["ms"], "%.1f" % p["GBps"],
                         "%.2f" % ratio)
            lines.append(row + ("  (privrec: %s)" % err if err else ""))
    copy = pv.get("BM_CudaCopy", (float("nan"),) * 2 + ("",))
    for d in DENSE_DIMS:
        fused = pv.get("BM_CudaFusedDenseNoisyUpdate/%d" % d)
        if fused and copy[1] == copy[1] and copy[1] > 0:
            lines.append("fused dense noisy update dim %d: %.1f GB/s = %.0f%% of the device-to-device copy's %.1f GB/s"
                         % (d, fused[1], 100.0 * fused[1] / copy[1], copy[1]))
    return "\n".join(lines)


def made_up_pair():
    """A small bench JSON and peer JSON in the real files' shapes, for --compare --dry-run."""
    bench = {"benchmarks": [
        dict(name="BM_CudaCopy/manual_time_median", run_name="BM_CudaCopy/manual_time", run_type="aggregate",
             aggregate_name="median", real_time=2.0, time_unit="ms", bytes_per_second=2 * TABLE_BYTES / 2e-3),
        dict(name="BM_CudaFusedDenseNoisyUpdate/32/manual_time", run_name="BM_CudaFusedDenseNoisyUpdate/32/manual_time",
             run_type="iteration", real_time=2.5, time_unit="ms", bytes_per_second=3.0e12),
        dict(name="BM_CudaEmbeddingForward/32/0/manual_time_median", run_name="BM_CudaEmbeddingForward/32/0/manual_time",
             run_type="aggregate", aggregate_name="median", error_occurred=True, error_message="no CUDA device: x")]}
    results = []
    for c in plan(TABLE_BYTES, BAGS, POOLING)[:4]:
        results.append(dict(name=c["name"], what=c["what"], ms=3.0,
                            pairs=[dict(privrec=p, bytes=b, GBps=gbps(b, 3.0)) for p, b in c["pairs"]]))
    results.append(dict(name="embedding_bag_fwd/32/0", what="", error="CUDA out of memory"))
    return bench, dict(info=dict(torch="0", timing="made up", device_name="none", same_sizes_as_privrec=True),
                       results=results)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu (a smoke run: use --quick)")
    ap.add_argument("--json", help="write the results as JSON to FILE")
    ap.add_argument("--warmup", type=int, default=3, help="untimed runs first (default 3)")
    ap.add_argument("--runs", type=int, default=10, help="timed runs; the median is reported (default 10)")
    ap.add_argument("--table-bytes", type=int, default=TABLE_BYTES, help="bytes of every table (default 4 GB)")
    ap.add_argument("--bags", type=int, default=BAGS, help="bags per embedding batch (default 2048 x 26)")
    ap.add_argument("--pooling", type=int, default=POOLING, help="lookups per bag (default 20)")
    ap.add_argument("--quick", action="store_true", help="64 MB tables, 1024 bags, 1 warm-up, 3 runs (a smoke run)")
    ap.add_argument("--only", help="run only the cases whose name matches this regular expression")
    ap.add_argument("--verbose", action="store_true", help="print each case as it finishes")
    ap.add_argument("--compare", nargs=2, metavar=("BENCH_JSON", "PEER_JSON"),
                    help="print privrec-cuda-bench's kernels and the peer's side by side")
    ap.add_argument("--out", help="with --compare: also write the table to FILE")
    ap.add_argument("--dry-run", action="store_true", help="check the arguments and print the plan; no torch")
    a = ap.parse_args()
    if a.quick:
        a.table_bytes, a.bags, a.warmup, a.runs = 64 << 20, 1024, 1, 3
    if a.warmup < 0 or a.runs < 1 or a.table_bytes < 4 * 256 or a.bags < 1 or a.pooling < 1:
        ap.error("--warmup >= 0, --runs >= 1, --table-bytes >= 1024, --bags >= 1 and --pooling >= 1")
    if a.only:
        re.compile(a.only)
    if a.compare:
        if a.dry_run:
            bench, peer = made_up_pair()
        else:
            try:
                bench = json.load(open(a.compare[0]))
            except (OSError, ValueError) as e:
                print("torch_gpu_peer: %s: %s (privrec-cuda-bench did not finish?)" % (a.compare[0], e))
                bench = {}
            try:
                peer = json.load(open(a.compare[1]))
            except (OSError, ValueError) as e:
                print("torch_gpu_peer: %s: %s (the peer did not finish?)" % (a.compare[1], e))
                return 1
        table = compare_table(bench, peer)
        print(table)
        if a.dry_run:
            print("torch_gpu_peer --compare --dry-run: a made-up pair of files renders %d lines" % len(table.splitlines()))
        if a.out and not a.dry_run:
            with open(a.out, "w") as f:
                f.write(table + "\n")
        return 0 if bench else 1
    if a.dry_run:
        cases = [c for c in plan(a.table_bytes, a.bags, a.pooling) if not a.only or re.search(a.only, c["name"])]
        print("torch_gpu_peer --dry-run: %d cases on %s, %d MB tables, %d bags x %d, median of %d after %d warm-up"
              % (len(cases), a.device, a.table_bytes >> 20, a.bags, a.pooling, a.runs, a.warmup))
        return 0 if cases else 1
    return run_peer(a)


if __name__ == "__main__":
    sys.exit(main())
