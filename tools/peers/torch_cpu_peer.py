#!/usr/bin/env python3
"""The framework way on the CPU: a DLRM training step as PyTorch code runs it (issue 16).

The peer that privrec's CPU kernels are measured against, written in this repository (not copied):
the step the way the LazyDP paper's public code runs it (REFERENCE.md section 8), on the same
workload and algorithm settings as a `privrec train --json` run, timed per stage in privrec's stage
vocabulary, and written as JSON shaped like train's (stages[].ms_per_step/ms_min/ms_max, step_ms),
with what calibrate fits the framework profile's costs from: dispatch_us (a framework call that does
nothing) and framework_rates (torch.randn's normals per second and torch.mm's GFLOP/s).

  torch_cpu_peer.py --like TRAIN_JSON [--steps N] [--warmup N] [--threads N] [--json OUT] [--force]
  torch_cpu_peer.py --dry-run ...

What each stage does here (per table where it touches tables):
  fwd.emb     nn.EmbeddingBag(mode="sum", sparse=True) forward, one call per table
  fwd.mlp     bottom MLP, dot interaction (bmm, lower triangle), top MLP, per-example BCE loss
  bwd.mlp     autograd backward of the loss through the MLPs to the pooled embeddings
  bwd.emb     autograd backward into the tables (a sparse gradient) and its coalesce()
  dp.norm     (dp algorithms) per-example squared norms, ghost-style as fast clipping computes them:
              ||a||^2 ||g||^2 + ||g||^2 per linear layer from hooked activations and output
              gradients; per bag ||d pooled||^2 times the bag's sum of squared id counts
  dp.clip     (dp algorithms) the second, reweighted backward through the MLPs (loss_i * c_i)
  dp.update   dpsgd-f: a dense noise tensor the size of the table (torch.randn), the coalesced
              gradient scattered into it (index_add_), a separate dense add to the table;
              eana: noise on the coalesced gradient's values, one index_add_;
              lazydp: the next batch's ids made unique, a buffer of (those rows + the batch's
              coalesced gradient's rows) x dim, N(0,1) scaled per row by sqrt(t - HT[row]) sigma C, the batch's
              gradient values copied in, coalesced, one index_add_, the history updated
              (timed as lazydp.catchup: privrec's dp.update and lazydp.catchup together)
  update.sparse  sgd: the coalesced gradient applied with index_add_
  update.mlp  the MLP's update (dp algorithms: Gaussian noise on the summed gradient first)
Timed with time.perf_counter around each stage (the CPU runs synchronously); the median over the
measured steps, with min and max. The ids are drawn as privrec's synthetic trace draws them for a
uniform workload (independent, uniform over each table's rows); other distributions are refused.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

ALGOS = ("sgd", "dpsgd-f", "eana", "lazydp")


def fail(msg):
    print(f"torch_cpu_peer: {msg}", file=sys.stderr)
    sys.exit(2)


def load_like(path):
    try:
        with open(path) as f:
            run = json.load(f)
    except OSError as e:
        fail(f"--like {path}: {e.strerror}")
    except json.JSONDecodeError as e:
        fail(f"--like {path}: not JSON: {e}")
    for key in ("workload", "algorithm"):
        if key not in run:
            fail(f"--like {path}: key '{key}' missing (expected the JSON of `privrec train --json`)")
    w, a = run["workload"], run["algorithm"]
    for key in ("name", "batch_size", "dense_features", "bottom_mlp", "top_mlp", "interaction", "tables"):
        if key not in w:
            fail(f"--like {path}: workload.{key} missing")
    for key in ("name", "lr") + (("clip", "sigma") if a.get("name") != "sgd" else ()):
        if key not in a:
            fail(f"--like {path}: algorithm.{key} missing")
    if not w["tables"]:
        fail(f"--like {path}: workload.tables is empty")
    if a.get("name") not in ALGOS:
        fail(f"--like {path}: algorithm.name '{a.get('name')}': the framework peer runs {', '.join(ALGOS)}")
    if w.get("interaction") != "dot":
        fail(f"--like {path}: workload.interaction '{w.get('interaction')}': only 'dot' is written here")
    for i, t in enumerate(w["tables"]):
        for key in ("rows", "dim", "pooling"):
            if key not in t:
                fail(f"--like {path}: workload.tables[{i}].{key} missing")
        if t.get("access") != "uniform":
            fail(f"--like {path}: workload.tables[{i}].access '{t.get('access')}': only uniform ids are drawn here")
        if t["dim"] != w["tables"][0]["dim"]:
            fail(f"--like {path}: workload.tables[{i}].dim {t['dim']}: the dot interaction needs every table at "
                 f"dim {w['tables'][0]['dim']}")
    return run


def build_model(torch, w, seed):
    nn = torch.nn
    torch.manual_seed(seed)
    dim = w["tables"][0]["dim"]
    tables = [nn.EmbeddingBag(t["rows"], t["dim"], mode="sum", sparse=True) for t in w["tables"]]
    for t in tables:
        nn.init.uniform_(t.weight, -0.05, 0.05)
    bottom, width = [], w["dense_features"]
    for out in w["bottom_mlp"]:
        bottom.append(nn.Linear(width, out))
        width = out
    if width != dim:
        fail(f"workload: the bottom MLP ends at {width}, the tables' dim is {dim}")
    features = 1 + len(tables)
    width = dim + features * (features - 1) // 2
    top = []
    for out in w["top_mlp"]:
        top.append(nn.Linear(width, out))
        width = out
    return tables, bottom, top


def draw_batch(torch, w, gen):
    B = w["batch_size"]
    ids, offsets = [], []
    for t in w["tables"]:
        P = t["pooling"]
        ids.append(torch.randint(0, t["rows"], (B * P,), generator=gen))
        offsets.append(torch.arange(0, B * P, P))
    dense = torch.rand((B, w["dense_features"]), generator=gen)
    labels = (torch.rand((B,), generator=gen) < 0.5).float()
    return ids, offsets, dense, labels


class Step:
    """One training step, stage by stage, with the stage clock."""

    def __init__(self, torch, w, a, model, stage_ms):
        self.torch, self.w, self.a = torch, w, a
        self.tables, self.bottom, self.top = model
        self.linears = self.bottom + self.top
        self.stage_ms = stage_ms
        self.history = [torch.zeros(t["rows"], dtype=torch.int32) for t in w["tables"]] if a["name"] == "lazydp" else None
        self.hooked, self.hooking = [], False
        if a["name"] != "sgd":
            # Fast clipping's hooks: each linear layer's input in the forward, its output gradient
            # in the first backward (off during the second, reweighted one).
            for lin in self.linears:
                lin.register_forward_hook(self.on_forward)
                lin.register_full_backward_hook(self.on_backward)

    def on_forward(self, module, inputs, output):  # returns None: the output stays as it is
        if self.hooking:
            self.hooked.append(("a", module, inputs[0].detach()))

    def on_backward(self, module, grad_inputs, grad_outputs):  # returns None: the gradients stay
        if self.hooking:
            self.hooked.append(("g", module, grad_outputs[0].detach()))

    def clock(self, name, fn):
        t0 = time.perf_counter()
        out = fn()
        self.stage_ms.setdefault(name, []).append(1e3 * (time.perf_counter() - t0))
        return out

    def mlp_forward(self, pooled, dense):
        torch, F = self.torch, self.torch.nn.functional
        x = dense
        for lin in self.bottom:
            x = F.relu(lin(x))
        feats = torch.stack([x] + pooled, dim=1)  # B x F x d
        z = torch.bmm(feats, feats.transpose(1, 2))
        li, lj = torch.tril_indices(feats.shape[1], feats.shape[1], offset=-1)
        y = torch.cat([x, z[:, li, lj]], dim=1)
        for k, lin in enumerate(self.top):
            y = lin(y)
            if k + 1 < len(self.top):
                y = F.relu(y)
        return y.squeeze(1)

    def run(self, t, batch, next_batch):
        torch, a, w = self.torch, self.a, self.w
        ids, offsets, dense, labels = batch
        B = w["batch_size"]
        dp = a["name"] != "sgd"
        self.hooked.clear()
        self.hooking = dp
        pooled = self.clock("fwd.emb", lambda: [tab(i, o) for tab, i, o in zip(self.tables, ids, offsets)])
        leaves = [p.detach().requires_grad_() for p in pooled]

        def forward_mlp():
            logit = self.mlp_forward(leaves, dense)
            return torch.nn.functional.binary_cross_entropy_with_logits(logit, labels, reduction="none")

        losses = self.clock("fwd.mlp", forward_mlp)
        for p in self.linear_params():
            p.grad = None
        if not dp:
            self.clock("bwd.mlp", lambda: losses.mean().backward())
            grads = self.clock("bwd.emb", lambda: self.embedding_backward(pooled, leaves))
            self.clock("update.mlp", lambda: self.mlp_update(1.0, False))
            self.clock("update.sparse", lambda: self.apply_sparse(grads, a["lr"]))
            return float(losses.mean())
        self.clock("bwd.mlp", lambda: losses.sum().backward(retain_graph=True))
        self.hooking = False
        factors = self.clock("dp.norm", lambda: self.clip_factors(ids, offsets, leaves))

        def reweighted():
            for p in self.linear_params():
                p.grad = None
            for leaf in leaves:
                leaf.grad = None
            (losses * factors).sum().backward()

        self.clock("dp.clip", reweighted)
        grads = self.clock("bwd.emb", lambda: self.embedding_backward(pooled, leaves))
        if a["name"] == "dpsgd-f":
            self.clock("dp.update", lambda: self.dense_noisy_update(grads, B))
        elif a["name"] == "eana":
            self.clock("dp.update", lambda: self.eana_update(grads, B))
        else:  # the noise and the update in one buffer: privrec's dp.update and lazydp.catchup in one
            self.clock("lazydp.catchup", lambda: self.lazydp_update(t, grads, next_batch, B))
        self.clock("update.mlp", lambda: self.mlp_update(1.0 / B, True))
        return float(losses.mean())

    def linear_params(self):
        for lin in self.linears:
            yield lin.weight
            yield lin.bias

    def embedding_backward(self, pooled, leaves):
        self.torch.autograd.backward(pooled, [leaf.grad for leaf in leaves])
        grads = [tab.weight.grad.coalesce() for tab in self.tables]
        for tab in self.tables:
            tab.weight.grad = None
        return grads

    def clip_factors(self, ids, offsets, leaves):
        torch = self.torch
        acts = {id(m): x for kind, m, x in self.hooked if kind == "a"}
        grads = [m for kind, m, _ in self.hooked if kind == "g"]
        assert len(acts) == len(self.linears) and len(grads) == len(self.linears), "a linear layer's hook did not fire"
        norm2 = torch.zeros(self.w["batch_size"], dtype=torch.float64)
        for kind, m, g in self.hooked:
            if kind != "g":
                continue
            g2 = (g.double() ** 2).sum(1)
            norm2 += (acts[id(m)].double() ** 2).sum(1) * g2 + g2
        B = self.w["batch_size"]
        for t, (i, leaf) in enumerate(zip(ids, leaves)):
            # The bag's sum of squared id counts: sort each bag, mark where a run of equal ids
            # starts, count each run (every bag of a table holds `pooling` ids).
            P = self.w["tables"][t]["pooling"]
            s = i.view(B, P).sort(dim=1).values
            start = torch.ones((B, P), dtype=torch.bool)
            start[:, 1:] = s[:, 1:] != s[:, :-1]
            run = start.long().cumsum(1) - 1
            counts = torch.zeros((B, P), dtype=torch.float64).scatter_add_(1, run, torch.ones((B, P), dtype=torch.float64))
            norm2 += (leaf.grad.double() ** 2).sum(1) * (counts ** 2).sum(1)
        return torch.clamp(self.a["clip"] / torch.sqrt(norm2).clamp_min(1e-30), max=1.0).float()

    def apply_sparse(self, grads, scale):
        with self.torch.no_grad():
            for tab, g in zip(self.tables, grads):
                tab.weight.index_add_(0, g.indices()[0], g.values(), alpha=-scale)

    def dense_noisy_update(self, grads, B):
        torch, a = self.torch, self.a
        std = a["sigma"] * a["clip"]
        with torch.no_grad():
            for tab, g in zip(self.tables, grads):
                noise = torch.randn(tab.weight.shape) * std
                noise.index_add_(0, g.indices()[0], g.values())
                tab.weight.add_(noise, alpha=-a["lr"] / B)

    def eana_update(self, grads, B):
        torch, a = self.torch, self.a
        with torch.no_grad():
            for tab, g in zip(self.tables, grads):
                v = g.values() + torch.randn(g.values().shape) * (a["sigma"] * a["clip"])
                tab.weight.index_add_(0, g.indices()[0], v, alpha=-a["lr"] / B)

    def lazydp_update(self, t, grads, next_batch, B):
        torch, a = self.torch, self.a
        next_ids = next_batch[0]
        with torch.no_grad():
            for k, (tab, g) in enumerate(zip(self.tables, grads)):
                rows = torch.unique(next_ids[k])
                owed = (t - self.history[k][rows]).double().sqrt() * (a["sigma"] * a["clip"])
                buf = torch.randn(rows.numel() + g.values().shape[0], tab.weight.shape[1])
                buf[: rows.numel()] *= owed.float().unsqueeze(1)
                buf[rows.numel():] = g.values()
                idx = torch.cat([rows, g.indices()[0]])
                merged = torch.sparse_coo_tensor(idx.unsqueeze(0), buf, tab.weight.shape).coalesce()
                tab.weight.index_add_(0, merged.indices()[0], merged.values(), alpha=-a["lr"] / B)
                self.history[k][rows] = t

    def mlp_update(self, scale, noisy):
        torch, a = self.torch, self.a
        with torch.no_grad():
            for p in self.linear_params():
                g = p.grad
                if noisy:
                    g = g + torch.randn(g.shape) * (a["sigma"] * a["clip"])
                p.add_(g, alpha=-a["lr"] * scale)


def summarize(stage_ms, warmup):
    order = ["fwd.emb", "fwd.mlp", "bwd.mlp", "bwd.emb", "dp.norm", "dp.clip", "dp.update", "update.mlp", "update.sparse",
             "lazydp.catchup"]
    stages = []
    for name in order:
        if name not in stage_ms:
            continue
        v = stage_ms[name][warmup:]
        stages.append({"name": name, "ms_per_step": statistics.median(v), "ms_min": min(v), "ms_max": max(v)})
    return stages


def dispatch_us(torch):
    """A framework call's cost where the work is nothing: an in-place add of 8 floats, 2000 times."""
    a, b = torch.zeros(8), torch.zeros(8)
    for _ in range(200):
        a.add_(b)
    n = 2000
    t0 = time.perf_counter()
    for _ in range(n):
        a.add_(b)
    return 1e6 * (time.perf_counter() - t0) / n


def framework_rates(torch):
    """The framework's own primitives at the shapes privrec's rate probes use (kernels/cpu/machine_bench.cpp),
    so that calibrate can take their ratio: torch.randn of 2^20 normals (a noise tensor's size), and
    torch.mm of 2048x512 by 512x512. The median of 7 after one untimed call each."""
    def median_s(fn):
        fn()
        ts = []
        for _ in range(7):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        return statistics.median(ts)

    n = 1 << 20
    a, b = torch.rand(2048, 512), torch.rand(512, 512)
    return {"rng_normals_per_s": n / median_s(lambda: torch.randn(n)),
            "gemm_GFLOPps": 2.0 * 2048 * 512 * 512 / median_s(lambda: torch.mm(a, b)) / 1e9}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--like", required=True, help="a `privrec train --json` file: its workload and algorithm")
    ap.add_argument("--steps", type=int, default=None, help="steps in all (default: the train run's)")
    ap.add_argument("--warmup", type=int, default=None, help="steps before measuring (default: the train run's)")
    ap.add_argument("--threads", type=int, default=None, help="intra-op threads (default: the train run's OpenMP threads)")
    ap.add_argument("--json", help="write the result here")
    ap.add_argument("--force", action="store_true", help="overwrite --json")
    ap.add_argument("--dry-run", action="store_true", help="check the arguments and the train JSON; import nothing")
    args = ap.parse_args()
    run = load_like(args.like)
    steps = args.steps if args.steps is not None else run.get("steps", 5)
    warmup = args.warmup if args.warmup is not None else run.get("warmup_steps", 1)
    if steps < 1 or warmup < 0 or warmup >= steps:
        fail(f"--steps {steps} --warmup {warmup}: need steps >= 1 and 0 <= warmup < steps")
    threads = args.threads or run.get("machine", {}).get("openmp_threads") or os.cpu_count()
    if args.json and os.path.exists(args.json) and not args.force:
        fail(f"--json {args.json}: exists (--force overwrites it)")
    w, a = run["workload"], run["algorithm"]
    if args.dry_run:
        print(f"torch_cpu_peer: would run {a['name']} on {w['name']} ({len(w['tables'])} tables, batch {w['batch_size']}), "
              f"{steps} steps ({warmup} warm-up), {threads} threads")
        return
    import torch

    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(int(a.get("seed", 1)))
    model = build_model(torch, w, int(a.get("seed", 1)))
    stage_ms = {}
    step = Step(torch, w, a, model, stage_ms)
    batches = [draw_batch(torch, w, gen) for _ in range(min(steps + 1, 4))]  # a few batches, reused in turn
    step_ms, losses = [], []
    for t in range(1, steps + 1):
        t0 = time.perf_counter()
        losses.append(step.run(t, batches[(t - 1) % len(batches)], batches[t % len(batches)]))
        step_ms.append(1e3 * (time.perf_counter() - t0))
        print(f"[torch peer] step {t}/{steps}, {step_ms[-1]:.1f} ms", file=sys.stderr)
    measured = step_ms[warmup:]
    out = {
        "command": "torch_cpu_peer " + " ".join(sys.argv[1:]),
        "backend": "pytorch-cpu",
        "implementation": "framework",
        "torch_version": torch.__version__,
        "threads": threads,
        "workload": w,
        "algorithm": a,
        "steps": steps,
        "warmup_steps": warmup,
        "losses": losses,
        "step_ms": {"median": statistics.median(measured), "min": min(measured), "max": max(measured)},
        "dispatch_us": dispatch_us(torch),
        "framework_rates": framework_rates(torch),
        "stages": summarize(stage_ms, warmup),
    }
    if args.json:
        tmp = f"{args.json}.tmp{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump(out, f, indent=1)
        os.replace(tmp, args.json)
    for s in out["stages"]:
        print(f"{s['name']:<14} {s['ms_per_step']:10.3f} ms")
    print(f"{'step':<14} {out['step_ms']['median']:10.3f} ms")


if __name__ == "__main__":
    main()
