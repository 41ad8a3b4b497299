#!/usr/bin/python3
"""Renders privrec's characterization report from the data `privrec report` wrote.

usage: render_report.py DIR [--png-only]
       (reads DIR/data/, writes DIR/*.png, DIR/*.svg unless --png-only, DIR/index.html, DIR/report.md)

Every figure is drawn only from data that exists; a figure without data is left out with a line
saying why. Each caption states the finding in numbers taken from the same data.
Needs matplotlib (Debian: python3-matplotlib; run with /usr/bin/python3).
"""
import csv
import glob
import html
import json
import math
import os
import signal
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.lines  # noqa: E402
import matplotlib.patches  # noqa: E402
import matplotlib.ticker  # noqa: E402

ALGOS = ["sgd", "dpsgd-b", "dpsgd-r", "dpsgd-f", "eana", "lazydp", "adafest", "dp-fest"]
STAGES = ["fwd.emb", "fwd.mlp", "bwd.mlp", "bwd.emb", "dp.norm", "dp.clip", "dp.update", "update.mlp",
          "update.sparse", "lazydp.catchup", "adafest.select"]
COLORS = {"sgd": "#4c72b0", "dpsgd-b": "#8c564b", "dpsgd-r": "#e377c2", "dpsgd-f": "#c44e52", "eana": "#8172b3",
          "lazydp": "#55a868", "adafest": "#ccb974", "dp-fest": "#64b5cd"}
STAGE_COLORS = plt.get_cmap("tab20").colors


def human_bytes(b):
    for unit, div in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if b >= 0.9995 * div:  # 999.7 GB reads "1 TB", not "1e+03 GB"
            return f"{b / div:.3g} {unit}"
    return f"{b:.0f} B"


def num(v):
    """A number for a caption: thousands separated above 1000, three significant digits below."""
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"


def read_csv(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k, v in list(r.items()):
            try:
                r[k] = float(v)
            except (TypeError, ValueError):
                pass
    return rows


def write_atomically(path, write):
    """Writes path through write(tmp) and a rename, so an interrupted run leaves no half-written file."""
    tmp = f"{path}.tmp-render-{os.getpid()}"
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text(path, text):
    def put(tmp):
        with open(tmp, "w") as f:
            f.write(text)
    write_atomically(path, put)


class Report:
    def __init__(self, out, svg=True):
        self.out = out
        self.svg = svg
        self.data = os.path.join(out, "data")
        self.sections = []  # (title, [images], caption, table_html, table_md)
        self.skipped = []

    def save(self, fig, name):
        write_atomically(os.path.join(self.out, name + ".png"),
                         lambda tmp: fig.savefig(tmp, format="png", dpi=90, bbox_inches="tight"))
        if self.svg:
            write_atomically(os.path.join(self.out, name + ".svg"),
                             lambda tmp: fig.savefig(tmp, format="svg", bbox_inches="tight"))
        plt.close(fig)
        return name

    def add(self, title, images, caption, table=None):
        self.sections.append((title, images, caption, table))

    def skip(self, title, why):
        self.skipped.append((title, why))


def simulations(rep, pattern):
    """The simulate JSONs matching `pattern` under data/, grouped by hardware profile name."""
    per_hw = {}
    for path in sorted(glob.glob(os.path.join(rep.data, pattern))):
        with open(path) as f:
            j = json.load(f)
        per_hw.setdefault(j["hardware"]["name"], []).append(j)
    return per_hw


def by(rows, **eq):
    return [r for r in rows if all(r.get(k) == v for k, v in eq.items())]


def hardware_of(rows):
    seen = []
    for r in rows:
        if r["hardware"] not in seen:
            seen.append(r["hardware"])
    return seen


def zipf_of(r):
    """The zipf exponent of a sweep row (0: uniform), from the zipf axis or, in older data, the dist axis."""
    if isinstance(r.get("zipf"), float):
        return r["zipf"]
    d = r.get("dist")
    return 0.0 if d in ("uniform", "", None) else float(str(d).split(":")[1])


def at_zipf(rows, z, algo):
    """The row of `algo` at zipf exponent `z`, or None."""
    hit = [r for r in rows if r["algo"] == algo and zipf_of(r) == z]
    return hit[0] if hit else None


def access_name(z):
    return "uniform" if z == 0 else f"zipf {z:g}"


def profile_memory(rep, hw):
    """Table-side memory (GB) of a profile, from any simulate JSON of it."""
    for path in glob.glob(os.path.join(rep.data, f"sim_{hw}_*.json")):
        with open(path) as f:
            h = json.load(f)["hardware"]
        side = h.get("host") if h.get("tables_in") == "host" else h["device"]
        return side["memory_GB"], h.get("tables_in", "device")
    return None, None


# 1. Per-stage breakdown versus table size, normalized to sgd.
def fig_breakdown(rep, rows):
    for hw in hardware_of(rows):
        hr = by(rows, hardware=hw)
        scales = sorted({r["table_scale"] for r in hr})
        n = len(scales)
        cols = min(3, n)
        fig, axes = plt.subplots((n + cols - 1) // cols, cols, figsize=(4.2 * cols, 3.3 * ((n + cols - 1) // cols)),
                                 squeeze=False)
        worst = []
        for i, sc in enumerate(scales):
            ax = axes[i // cols][i % cols]
            sr = by(hr, table_scale=sc)
            base = by(sr, algo="sgd")
            if not base:
                continue
            base_ms = base[0]["step_ms"]
            algos = [a for a in ALGOS if by(sr, algo=a)]
            bottom = [0.0] * len(algos)
            for si, st in enumerate(STAGES):
                vals = [by(sr, algo=a)[0].get(st + "_ms", 0.0) / base_ms for a in algos]
                if any(v > 0 for v in vals):
                    ax.bar(range(len(algos)), vals, bottom=bottom, color=STAGE_COLORS[si % 20], label=st, width=0.75)
                    bottom = [b + v for b, v in zip(bottom, vals)]
            ax.set_xticks(range(len(algos)))
            ax.set_xticklabels(algos, rotation=45, ha="right", fontsize=8)
            ax.set_title(f"tables {human_bytes(sr[0]['table_bytes'])}", fontsize=10)
            ax.set_ylabel("step time / sgd's step time")
            worst.append((sr[0]["table_bytes"], max(zip(bottom, algos))))
        for j in range(n, axes.size):
            axes[j // cols][j % cols].axis("off")
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=6, fontsize=8, bbox_to_anchor=(0.5, -0.06))
        fig.suptitle(f"Where a training step's time goes, per stage, versus table size ({hr[0]['model']} on {hw}, "
                     "modeled)", fontsize=11)
        fig.tight_layout(rect=(0, 0.04, 1, 0.95))
        name = rep.save(fig, f"fig1_breakdown_{hw}")
        small, large = worst[0], worst[-1]
        rep.add(f"1. Per-stage breakdown versus table size ({hw})", [name],
                f"Each bar is one algorithm's modeled step, stacked by stage and divided by sgd's step at the same "
                f"table size. At {human_bytes(small[0])} of tables the slowest algorithm ({small[1][1]}) takes "
                f"{num(small[1][0])}x sgd's step, mostly in its per-example gradients (dp.norm, dp.clip); at "
                f"{human_bytes(large[0])} the slowest ({large[1][1]}) takes {num(large[1][0])}x, almost all of it in "
                f"dp.update, because dpsgd-b/r/f sample noise for and rewrite every table row every step while sgd, "
                f"eana, lazydp and adafest touch only the batch's rows.")


# 2. The model-update stage alone: noise sampling, the noisy update's memory traffic, the rest.
def fig_update_split(rep):
    sims = simulations(rep, "sim_*_dpsgd-f_*.json")
    if not sims:
        rep.skip("2. Model-update stage split", "no simulate data for dpsgd-f")
        return
    for hw, runs in sims.items():
        pts = [(j["workload"]["table_bytes"], s) for j in runs for s in j["stages"] if s["name"] == "dp.update"]
        pts.sort(key=lambda p: p[0])
        x = list(range(len(pts)))
        fig, ax = plt.subplots(figsize=(7, 4))
        w = 0.27
        rng = [p[1]["rng_ms"] for p in pts]
        mem = [p[1]["memory_ms"] for p in pts]
        rest = [p[1]["overhead_ms"] + p[1]["link_ms"] + p[1]["compute_ms"] for p in pts]
        ax.bar([i - w for i in x], rng, w, label="noise sampling (RNG term)", color="#c44e52")
        ax.bar(x, mem, w, label="noisy update (memory term)", color="#4c72b0")
        ax.bar([i + w for i in x], rest, w, label="the rest (arithmetic, launches, link)", color="#999999")
        ax.set_yscale("log")
        ax.set_xticks(x)
        ax.set_xticklabels([human_bytes(p[0]) for p in pts])
        ax.set_xlabel("embedding table size")
        ax.set_ylabel("modeled ms per step (log)")
        ax.set_title(f"dpsgd-f's dp.update stage, its terms, versus table size ({hw})", fontsize=10)
        ax.legend(fontsize=8)
        name = rep.save(fig, f"fig2_update_split_{hw}")
        big = pts[-1][1]
        bound = "sampling" if big["rng_ms"] >= big["memory_ms"] else "memory traffic"
        rep.add(f"2. The model-update stage split ({hw})", [name],
                f"The terms of dpsgd-f's dense noisy update as modeled (they overlap: the stage takes the largest, "
                f"plus the unoverlapped share of the others, times the profile's efficiency). At "
                f"{human_bytes(pts[-1][0])} the RNG term is {num(big['rng_ms'])} ms and the memory term "
                f"{num(big['memory_ms'])} ms: the update is bound by {bound}. The stage grows linearly with the table, "
                f"from {num(pts[0][1]['ms_per_step'])} ms at {human_bytes(pts[0][0])} to {num(big['ms_per_step'])} ms.")


# 3. Throughput versus table size, log-log, one line per algorithm, one panel per hardware.
def fig_throughput(rep, rows):
    hws = hardware_of(rows)
    fig, axes = plt.subplots(1, len(hws), figsize=(6 * len(hws), 4.3), squeeze=False)
    table_md = ["| hardware | tables | " + " | ".join(ALGOS) + " |", "|---|---|" + "---|" * len(ALGOS)]
    notes = []
    for i, hw in enumerate(hws):
        ax = axes[0][i]
        hr = by(rows, hardware=hw)
        for a in ALGOS:
            pts = sorted((r["table_bytes"], r["throughput_examples_per_s"]) for r in by(hr, algo=a))
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3, label=a, color=COLORS[a])
        ax.set_xscale("log")
        ax.set_yscale("log")
        mem, where = profile_memory(rep, hw)
        if mem:
            ax.axvline(mem * 1e9, color="k", ls="--", lw=1)
            ax.text(mem * 1e9, 0.04, f" {where} memory\n {mem:.3g} GB", fontsize=8, transform=ax.get_xaxis_transform())
        ax.set_xlabel("embedding table size (bytes)")
        ax.set_ylabel("training throughput (examples/s)")
        ax.set_title(hw, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        if i == 0:
            ax.legend(fontsize=8)
        for sc in sorted({r["table_scale"] for r in hr}):
            sr = by(hr, table_scale=sc)
            vals = [f"{by(sr, algo=a)[0]['throughput_examples_per_s']:,.0f}" if by(sr, algo=a) else "" for a in ALGOS]
            table_md.append(f"| {hw} | {human_bytes(sr[0]['table_bytes'])} | " + " | ".join(vals) + " |")
        big = max(hr, key=lambda r: r["table_bytes"])["table_bytes"]
        f = by(hr, table_bytes=big, algo="dpsgd-f")
        l = by(hr, table_bytes=big, algo="lazydp")
        if f and l:
            notes.append(f"on {hw} at {human_bytes(big)} lazydp trains {num(l[0]['throughput_examples_per_s'])} "
                         f"examples/s against dpsgd-f's {num(f[0]['throughput_examples_per_s'])} "
                         f"({num(l[0]['throughput_examples_per_s'] / f[0]['throughput_examples_per_s'])}x)")
    fig.suptitle(f"Throughput versus table size ({rows[0]['model']}, modeled; dashed: where the tables stop "
                 "fitting)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    name = rep.save(fig, "fig3_throughput")
    flat, falling = [], []
    for a in ALGOS:
        drops = []
        for hw in hws:
            pts = sorted((r["table_bytes"], r["throughput_examples_per_s"]) for r in by(rows, hardware=hw, algo=a))
            if len(pts) > 1:
                drops.append(pts[0][1] / pts[-1][1])
        if drops:
            (flat if max(drops) < 2 else falling).append(f"{a} ({num(max(drops))}x)")
    rep.add("3. Throughput versus table size", [name],
            "Modeled examples per second, one line per algorithm. From the smallest to the largest tables, "
            f"throughput drops by under 2x for {', '.join(flat) or 'none'} and by more for "
            f"{', '.join(falling) or 'none'} (the largest drop over the profiles in parentheses). " +
            "; ".join(notes).capitalize()[:1] +
            "; ".join(notes)[1:] + ". Right of the dashed line "
            "the tables exceed the profile's memory and the prediction assumes it were large enough.",
            "\n".join(table_md))


# 4. lazydp's speedup over dpsgd-f, heatmap over batch size and table size.
def fig_heatmap(rep, rows):
    if not rows:
        rep.skip("4. lazydp speedup heatmap", "no batch-size sweep")
        return
    for hw in hardware_of(rows):
        hr = by(rows, hardware=hw)
        batches = sorted({r["batch"] for r in hr})
        sizes = sorted({r["table_bytes"] for r in hr})
        grid = []
        for b in batches:
            line = []
            for s in sizes:
                f = by(hr, batch=b, table_bytes=s, algo="dpsgd-f")
                l = by(hr, batch=b, table_bytes=s, algo="lazydp")
                line.append(f[0]["step_ms"] / l[0]["step_ms"] if f and l else float("nan"))
            grid.append(line)
        fig, ax = plt.subplots(figsize=(1.3 * len(sizes) + 2, 0.55 * len(batches) + 1.8))
        im = ax.imshow([[math.log10(v) for v in line] for line in grid], cmap="viridis", aspect="auto",
                       origin="lower")
        for yi, line in enumerate(grid):
            for xi, v in enumerate(line):
                ax.text(xi, yi, f"{v:,.0f}x" if v >= 100 else f"{v:.3g}x", ha="center", va="center", fontsize=7,
                        color="w" if math.log10(v) < (max(map(max, grid)) and 0.5 * math.log10(max(map(max, grid))))
                        else "k")
        ax.set_xticks(range(len(sizes)))
        ax.set_xticklabels([human_bytes(s) for s in sizes], fontsize=8)
        ax.set_yticks(range(len(batches)))
        ax.set_yticklabels([f"{b:.0f}" for b in batches], fontsize=8)
        ax.set_xlabel("embedding table size")
        ax.set_ylabel("batch size (examples)")
        cb = fig.colorbar(im, ax=ax)
        cb.set_label("log10(dpsgd-f step / lazydp step)")
        ax.set_title(f"lazydp's speedup over dpsgd-f ({hr[0]['model']} on {hw}, modeled)", fontsize=10)
        name = rep.save(fig, f"fig4_lazydp_speedup_{hw}")
        lo = min(min(line) for line in grid)
        hi = max(max(line) for line in grid)
        rep.add(f"4. lazydp's speedup over dpsgd-f ({hw})", [name],
                f"dpsgd-f's step time over lazydp's, by batch size and table size: from {num(lo)}x to {num(hi)}x. "
                "The gap grows with the table (dpsgd-f's dense update scales with it, lazydp's catch-up with the "
                "batch's rows) and shrinks with the batch (both do more per-example work, and lazydp's catch-up "
                "touches more rows).")


# 5. Measured versus modeled, from validate reports.
def fig_measured(rep):
    files = sorted(glob.glob(os.path.join(rep.data, "measured_*.json")))
    if not files:
        rep.skip("5. Measured versus modeled", "no --measured validate report was given")
        return
    meas, model, names, cases = [], [], [], []
    for path in files:
        with open(path) as f:
            j = json.load(f)
        for c in j.get("cases", []):
            cases.append((c["label"], c["stages"]))
            for s in c["stages"]:
                if s["measured_ms"] > 0 and s["modeled_ms"] > 0:
                    meas.append(s["measured_ms"])
                    model.append(s["modeled_ms"])
                    names.append(s["name"])
        hw = j["hardware"]["name"]
    if not meas:
        rep.skip("5. Measured versus modeled", "the validate reports hold no stage pairs")
        return
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [1, 1.6]})
    lo, hi = min(meas + model) * 0.7, max(meas + model) * 1.4
    ax.fill_between([lo, hi], [lo * 0.9, hi * 0.9], [lo * 1.1, hi * 1.1], color="#cccccc", alpha=0.6, label="±10 %")
    ax.plot([lo, hi], [lo, hi], "k-", lw=1, label="y = x")
    for st in sorted(set(names)):
        idx = [i for i, n in enumerate(names) if n == st]
        ax.scatter([meas[i] for i in idx], [model[i] for i in idx], s=14,
                   color=STAGE_COLORS[STAGES.index(st) % 20] if st in STAGES else "k", label=st)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("measured ms per step")
    ax.set_ylabel("modeled ms per step")
    ax.set_title("every stage of every validated case", fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    x = 0
    ticks = []
    for label, stages in cases:
        for k, key in enumerate(("measured_ms", "modeled_ms")):
            bottom = 0
            for s in stages:
                si = STAGES.index(s["name"]) if s["name"] in STAGES else 0
                bx.bar(x + k * 0.4, s[key], 0.38, bottom=bottom, color=STAGE_COLORS[si % 20],
                       edgecolor="k" if k else "none", lw=0.3)
                bottom += s[key]
        ticks.append((x + 0.2, label))
        x += 1
    bx.set_xticks([t[0] for t in ticks])
    bx.set_xticklabels([t[1] for t in ticks], rotation=40, ha="right", fontsize=7)
    bx.set_ylabel("ms per step (left bar measured, right bar modeled)")
    bx.set_title("per case, stacked by stage", fontsize=10)
    fig.suptitle(f"Measured versus modeled on {hw}", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    name = rep.save(fig, "fig5_measured_vs_modeled")
    errs = sorted(abs(m - s) / s * 100 for s, m in zip(meas, model))
    median = errs[len(errs) // 2] if len(errs) % 2 else 0.5 * (errs[len(errs) // 2 - 1] + errs[len(errs) // 2])
    within = sum(e <= 10 for e in errs) / len(errs) * 100
    rep.add("5. Measured versus modeled", [name],
            f"{len(errs)} stage pairs from {len(cases)} held-out cases on {hw}: median absolute error "
            f"{median:.1f} %, {within:.0f} % of pairs within the ±10 % band, worst {errs[-1]:.0f} %. The stacked "
            "bars put each case's measured step (left) beside the modeled one (right).")


# 6. adafest: rows updated and step time versus tau, next to dpsgd-f and lazydp.
def fig_tau(rep, rows):
    if not rows:
        rep.skip("6. adafest versus tau", "no tau sweep")
        return
    for hw in hardware_of(rows):
        hr = by(rows, hardware=hw)
        ada = sorted(by(hr, algo="adafest"), key=lambda r: r["adafest_tau"])
        if not ada:
            continue
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4))
        taus = [r["adafest_tau"] for r in ada]
        ax.plot(taus, [r["rows_updated_per_step"] for r in ada], "o-", color=COLORS["adafest"], label="adafest")
        for a in ("dpsgd-f", "lazydp"):
            r = by(hr, algo=a)
            if r:
                ax.axhline(r[0]["rows_updated_per_step"], color=COLORS[a], ls="--", label=a)
                bx.axhline(r[0]["step_ms"], color=COLORS[a], ls="--", label=a)
        bx.plot(taus, [r["step_ms"] for r in ada], "o-", color=COLORS["adafest"], label="adafest")
        ax.set_yscale("log")
        ax.set_xlabel("selection threshold tau")
        ax.set_ylabel("table rows updated per step (log)")
        bx.set_yscale("log")
        bx.set_xlabel("selection threshold tau")
        bx.set_ylabel("modeled ms per step (log)")
        ax.legend(fontsize=8)
        bx.legend(fontsize=8)
        fig.suptitle(f"adafest: rows updated and step time versus tau ({hr[0]['model']}, "
                     f"{human_bytes(ada[0]['table_bytes'])} of tables, {hw})", fontsize=10)
        fig.tight_layout(rect=(0, 0, 1, 0.93))
        name = rep.save(fig, f"fig6_adafest_tau_{hw}")
        rep.add(f"6. adafest versus its threshold ({hw})", [name],
                f"With sigma1 = 1, tau {taus[0]:g} selects {ada[0]['rows_updated_per_step']:,.0f} rows per step "
                f"(false positives dominate: an untouched row passes with probability Q(tau/sigma1)), tau "
                f"{taus[-1]:g} only {ada[-1]['rows_updated_per_step']:,.0f}; the step goes from "
                f"{num(ada[0]['step_ms'])} to {num(ada[-1]['step_ms'])} ms, against dpsgd-f's "
                f"{num(by(hr, algo='dpsgd-f')[0]['step_ms'])} ms and lazydp's {num(by(hr, algo='lazydp')[0]['step_ms'])} ms.")


# 7. Every stage on the hardware's roofline.
def fig_roofline(rep):
    per_hw = simulations(rep, "sim_*_*_1.json")
    if not per_hw:
        rep.skip("7. Roofline", "no simulate data at table scale 1")
        return
    for hw, runs in per_hw.items():
        h = runs[0]["hardware"]
        fig, ax = plt.subplots(figsize=(7, 5))
        procs = [("device", h["device"])] + ([("host", h["host"])] if h.get("host") else [])
        xs = [10 ** (k / 10) for k in range(-40, 31)]
        for pname, p in procs:
            peak = p["gemm_GFLOPps"]
            ax.plot(xs, [min(peak, p["stream_GBps"] * x) for x in xs], "-" if pname == "device" else ":", color="k",
                    lw=1, label=f"{pname} roof: {p['stream_GBps']:.3g} GB/s, {peak:,.0f} GFLOP/s")
        best = None
        for j in runs:
            for s in j["stages"]:
                b = s["bytes_read"] + s["bytes_written"]
                if s["flops"] <= 0 or b <= 0 or s["ms_per_step"] <= 0:
                    continue
                x = s["flops"] / b
                y = s["flops"] / (s["ms_per_step"] * 1e6)
                ax.scatter(x, y, s=22, color=COLORS[j["algorithm"]["name"]], marker="o" if s["runs_on"] == "device"
                           else "s")
                ax.annotate(s["name"], (x, y), fontsize=6, xytext=(3, 2), textcoords="offset points")
                if best is None or y > best[1]:
                    best = (s["name"], y, j["algorithm"]["name"])
        for a in ("sgd", "dpsgd-f", "lazydp", "adafest"):
            ax.scatter([], [], color=COLORS[a], label=a)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("operational intensity (flops per byte moved)")
        ax.set_ylabel("attained GFLOP/s (modeled)")
        ax.set_title(f"Each stage on the roofline ({runs[0]['workload']['name']}, tables "
                     f"{human_bytes(runs[0]['workload']['table_bytes'])}, {hw}; squares: stages on the tables)",
                     fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(True, which="both", alpha=0.3)
        name = rep.save(fig, f"fig7_roofline_{hw}")
        rep.add(f"7. Stages on the roofline ({hw})", [name],
                f"Each stage of sgd, dpsgd-f, lazydp and adafest at table scale 1 as flops per byte against attained "
                f"GFLOP/s. The MLP stages sit at high intensity near the compute roof (best: {best[2]}'s {best[0]} at "
                f"{best[1]:,.0f} GFLOP/s); the embedding and update stages sit far left, under the bandwidth "
                "slope; the sampling-bound dense update has too few flops per byte to show its RNG limit here "
                "(figure 2 shows it).")


# 8. Sensitivity of the lazydp/dpsgd-f gap to pooling and skew.
def fig_sensitivity(rep, pooling, skew):
    if not pooling and not skew:
        rep.skip("8. Sensitivity", "no pooling or skew sweep")
        return
    for hw in hardware_of(pooling or skew):
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4))
        notes = []
        pr = by(pooling, hardware=hw)
        if pr:
            ps = sorted({r["pooling"] for r in pr})
            gap = [by(pr, pooling=p, algo="dpsgd-f")[0]["step_ms"] / by(pr, pooling=p, algo="lazydp")[0]["step_ms"]
                   for p in ps]
            ax.plot(ps, gap, "o-", color=COLORS["lazydp"])
            ax.set_xscale("log")
            notes.append(f"the gap is {gap[0]:,.1f}x at pooling {ps[0]:g} and {gap[-1]:,.1f}x at {ps[-1]:g}")
        ax.set_xlabel("lookups per example per table (pooling)")
        ax.set_ylabel("dpsgd-f step / lazydp step")
        ax.set_ylim(bottom=0)
        sr = by(skew, hardware=hw)
        if sr:
            zs = sorted({zipf_of(r) for r in sr})
            gap = [at_zipf(sr, z, "dpsgd-f")["step_ms"] / at_zipf(sr, z, "lazydp")["step_ms"] for z in zs]
            bx.plot(zs, gap, "o-", color=COLORS["lazydp"])
            notes.append(f"{gap[0]:,.1f}x for uniform access and {gap[-1]:,.1f}x at zipf {zs[-1]:g}")
        bx.set_xlabel("zipf exponent of row access (0: uniform)")
        bx.set_ylabel("dpsgd-f step / lazydp step")
        model = (pr or sr)[0]["model"]
        fig.suptitle(f"How the lazydp/dpsgd-f gap depends on pooling and skew ({model}, "
                     f"{human_bytes((pr or sr)[0]['table_bytes'])} of tables, {hw})", fontsize=10)
        fig.tight_layout(rect=(0, 0, 1, 0.93))
        name = rep.save(fig, f"fig8_sensitivity_{hw}")
        rep.add(f"8. Sensitivity to pooling and skew ({hw})", [name],
                "; ".join(notes).capitalize() + ". More lookups per example means more rows for lazydp to catch up "
                "and more coalescing for both; skew concentrates lookups on fewer distinct rows, which lazydp's "
                "catch-up benefits from.")


def cache_axis(ax, caches, none_x):
    """A log axis of cache capacities in GB, with the no-cache point drawn at `none_x` and named so."""
    ax.set_xscale("log")
    ax.set_xticks([none_x] + caches)
    ax.set_xticklabels(["none"] + [f"{c:g}" for c in caches])
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())


def span(vals):
    lo, hi = min(vals), max(vals)
    return num(lo) if num(lo) == num(hi) else f"{num(lo)}-{num(hi)}"


def and_list(names):
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def flat_and_gaining(rows, algos, caches, zs):
    """The algorithms whose throughput moves by under 2 % over the cached points, and the others."""
    def thr(a):
        return [r["throughput_examples_per_s"] for r in by(rows, algo=a) if r["device_cache_GB"] > 0
                and zipf_of(r) in zs and r["device_cache_GB"] in caches]
    flat = [a for a in algos if max(thr(a)) < 1.02 * min(thr(a))]
    return flat, [a for a in algos if a not in flat]


# 9. Tables in host memory, hot rows cached in device memory: throughput and hit rate versus the cache.
def fig_device_cache(rep):
    files = sorted(glob.glob(os.path.join(rep.data, "device_cache_*.csv")))
    if not files:
        rep.skip("9. Throughput versus device-cache capacity", "no device-cache sweep (it needs a profile that "
                 "describes a host and link, and tables larger than the smallest cache, 1 GB)")
        return
    for path in files:
        rows = read_csv(path)
        caches = sorted({r["device_cache_GB"] for r in rows if r["device_cache_GB"] > 0})
        if not caches:
            continue
        hw, zs, none_x = rows[0]["hardware"], sorted({zipf_of(r) for r in rows}), caches[0] / 2
        algos = [a for a in ALGOS if by(rows, algo=a)]
        flat, gaining = flat_and_gaining(rows, algos, caches, zs)
        shown = [a for a in ("lazydp", "dpsgd-f") if a in algos] or algos[:1]  # whose hit rates the table lists
        fig, axes = plt.subplots(2, len(zs), figsize=(6 * len(zs), 6.4), squeeze=False, sharex=True,
                                 gridspec_kw={"height_ratios": [3, 1.4]})
        table_md = ["| access | device cache (GB) | " + " | ".join(algos) + " | " +
                    " | ".join(f"{a}'s fwd.emb hit rate" for a in shown) + " |",
                    "|---|---|" + "---|" * (len(algos) + len(shown))]
        for i, z in enumerate(zs):
            ax, hx = axes[0][i], axes[1][i]
            zr = [r for r in rows if zipf_of(r) == z]
            curves = {}
            for a in algos:
                ar = sorted(by(zr, algo=a), key=lambda r: r["device_cache_GB"])
                cached = [r for r in ar if r["device_cache_GB"] > 0]
                ax.plot([r["device_cache_GB"] for r in cached], [r["throughput_examples_per_s"] for r in cached],
                        "o-", ms=3, color=COLORS[a], label=a)
                hits = tuple(r["fwd_emb_hit_rate"] for r in ar)
                curves.setdefault(tuple(round(h, 4) for h in hits), (hits, [], ar))[1].append(a)
                if ar[0]["device_cache_GB"] == 0:
                    ax.plot([none_x, cached[0]["device_cache_GB"]], [ar[0]["throughput_examples_per_s"],
                            cached[0]["throughput_examples_per_s"]], ":", lw=1, color=COLORS[a])
                    ax.plot([none_x], [ar[0]["throughput_examples_per_s"]], "o", ms=5, mfc="none", color=COLORS[a])
            for hits, names, ar in curves.values():  # algorithms with the same hit rates drawn once
                k = 1 if ar[0]["device_cache_GB"] == 0 else 0
                hx.plot([r["device_cache_GB"] for r in ar[k:]], hits[k:], "o-", ms=3, color=COLORS[names[0]],
                        label=", ".join(names))
                if k:
                    hx.plot([none_x, ar[1]["device_cache_GB"]], hits[:2], ":", lw=1, color=COLORS[names[0]])
                    hx.plot([none_x], hits[:1], "o", ms=5, mfc="none", color=COLORS[names[0]])
            ax.set_yscale("log")
            ax.set_ylabel("training throughput (examples/s, log)")
            ax.set_title(f"{access_name(z)} access", fontsize=10)
            ax.grid(True, which="both", alpha=0.3)
            hx.set_ylim(0, 1.02)
            hx.set_ylabel("fwd.emb hit rate")
            hx.set_xlabel("device cache (GB of device memory; none: the host runs the table stages)")
            hx.grid(True, alpha=0.3)
            hx.legend(fontsize=7, loc="lower right")
            cache_axis(hx, caches, none_x)
            for c in sorted({r["device_cache_GB"] for r in zr}):
                cr = by(zr, device_cache_GB=c)
                table_md.append(f"| {access_name(z)} | {c:g} | " + " | ".join(
                    f"{by(cr, algo=a)[0]['throughput_examples_per_s']:,.0f}" for a in algos) + " | " +
                    " | ".join(f"{by(cr, algo=a)[0]['fwd_emb_hit_rate']:.3f}" for a in shown) + " |")
        axes[0][0].legend(fontsize=8, ncol=2)
        fig.suptitle(f"Throughput and fwd.emb hit rate versus the device cache ({rows[0]['model']}, "
                     f"{human_bytes(rows[0]['table_bytes'])} of tables in {hw}'s host memory, modeled)\n"
                     "hit rates from Che's approximation (steady state); open circles: no cache", fontsize=10)
        fig.tight_layout(rect=(0, 0, 1, 0.94))
        name = rep.save(fig, f"fig9_device_cache_{hw}")
        rep.add(f"9. Throughput versus device-cache capacity ({hw})", [name],
                device_cache_caption(rows, hw, zs, caches, flat, gaining), "\n".join(table_md))


def device_cache_caption(rows, hw, zs, caches, flat, gaining):
    def at(a, c, z):
        return at_zipf(by(rows, device_cache_GB=c), z, a)

    def thr(a, c, z):
        return at(a, c, z)["throughput_examples_per_s"]
    has_none = bool(by(rows, device_cache_GB=0.0))
    text = (f"{human_bytes(rows[0]['table_bytes'])} of tables in {hw}'s host memory, their hot rows cached in "
            f"device memory from {caches[0]:g} to {caches[-1]:g} GB (open circles: no cache, the host runs the table "
            "stages and its own caches set the hit rate); the fwd.emb hit rates come from Che's approximation, the "
            "steady state of an LRU cache. ")
    if flat:
        flat_thr = [thr(a, c, z) for a in flat for c in caches for z in zs]
        text += (f"The flat lines, {and_list(flat)}, stay at {span(flat_thr)} "
                 "examples/s whatever the cache and the skew" +
                 (f" (without a cache: {span([thr(a, 0.0, z) for a in flat for z in zs])})" if has_none else "") +
                 ": their noisy update rewrites every table row each step, and with a cache it runs on the device, "
                 "so the whole tables cross the link every step. ")
    if gaining:
        a = "lazydp" if "lazydp" in gaining else gaining[0]
        parts = [f"from {num(thr(a, caches[0], z))} examples/s at {caches[0]:g} GB to {num(thr(a, caches[-1], z))} "
                 f"at {caches[-1]:g} GB for {access_name(z)} access (hit rate "
                 f"{at(a, caches[0], z)['fwd_emb_hit_rate']:.3f} to {at(a, caches[-1], z)['fwd_emb_hit_rate']:.3f})"
                 for z in zs]
        best = max(gaining, key=lambda g: thr(g, caches[-1], zs[0]) / thr(g, caches[0], zs[0]))
        text += (f"The others ({and_list(gaining)}) gain from the cache: {a} goes " + " and ".join(parts) +
                 (f", against {num(thr(a, 0.0, zs[0]))} without one" if has_none else "") +
                 f"; the largest gain over the cached range, for {access_name(zs[0])} access, is {best}'s "
                 f"{thr(best, caches[-1], zs[0]) / thr(best, caches[0], zs[0]):.2f}x.")
    return text


def moved(algo, lo, hi):
    """'ALGO goes from X to Y' (throughputs of two sweep rows), or 'stays at X' where they round alike; None
    without both rows."""
    if not lo or not hi:
        return None
    x, y = num(lo["throughput_examples_per_s"]), num(hi["throughput_examples_per_s"])
    return f"{algo} stays at {x}" if x == y else f"{algo} goes from {x} to {y}"


# 10. Throughput versus the zipf exponent, every algorithm, one column per profile: absolute (log) above,
# relative to uniform access below (where skew's effect is visible).
def fig_skew(rep, skew, skew_cache):
    if not skew and not skew_cache:
        rep.skip("10. Throughput versus access skew", "no skew sweep")
        return
    cached = hardware_of(skew_cache)
    hws = hardware_of(skew) + [h for h in cached if h not in hardware_of(skew)]
    fig, axes = plt.subplots(2, len(hws), figsize=(5.5 * len(hws), 6.6), squeeze=False, sharex=True,
                             gridspec_kw={"height_ratios": [3, 2]})
    algos = [a for a in ALGOS if by(skew + skew_cache, algo=a)]
    table_md = ["| hardware | tables in | access | " + " | ".join(algos) + " |", "|---|---|---|" + "---|" * len(algos)]
    notes, places, gains = [], [], []
    for i, hw in enumerate(hws):
        ax, rx = axes[0][i], axes[1][i]
        hr = by(skew_cache if hw in cached else skew, hardware=hw)
        cache = hr[0]["device_cache_GB"] if isinstance(hr[0].get("device_cache_GB"), float) else 0.0
        where = f"host memory, {cache:g} GB device cache" if cache > 0 else \
            f"{profile_memory(rep, hw)[1] or 'the profile’s'} memory"
        places.append(f"{hw} in {where}" + (" (they overflow its device memory)" if hw in cached else ""))
        zs = sorted({zipf_of(r) for r in hr})
        for a in algos:
            pts = [at_zipf(hr, z, a) for z in zs]
            if all(pts):
                thr = [p["throughput_examples_per_s"] for p in pts]
                ax.plot(zs, thr, "o-", ms=3, color=COLORS[a], label=a)
                rx.plot(zs, [t / thr[0] for t in thr], "o-", ms=3, color=COLORS[a])
                gains.append((thr[-1] / thr[0], a, hw))
        for z in zs:
            vals = [f"{at_zipf(hr, z, a)['throughput_examples_per_s']:,.0f}" if at_zipf(hr, z, a) else ""
                    for a in algos]
            table_md.append(f"| {hw} | {where} | {access_name(z)} | " + " | ".join(vals) + " |")
        ax.set_yscale("log")
        ax.set_ylabel("training throughput (examples/s, log)")
        ax.set_title(f"{hw}: tables in {where}", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        rx.set_xlabel("zipf exponent of row access (0: uniform)")
        rx.set_ylabel("throughput / uniform access's")
        rx.grid(True, alpha=0.3)
        if i == 0:
            ax.legend(fontsize=8, ncol=2)
        moves = [moved(a, at_zipf(hr, zs[0], a), at_zipf(hr, zs[-1], a)) for a in ("lazydp", "dpsgd-f")]
        if all(moves):
            notes.append(f"on {hw} {moves[0]} examples/s and {moves[1]}")
    first = (skew or skew_cache)[0]
    fig.suptitle(f"Throughput versus access skew ({first['model']}, {human_bytes(first['table_bytes'])} of tables, "
                 "modeled)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    name = rep.save(fig, "fig10_skew_throughput")
    best = max(gains)
    most = (f"the largest gain is {best[1]}'s {best[0]:.2f}x on {best[2]}" if best[0] >= 1.01 else
            "no algorithm gains 1 %")
    rep.add("10. Throughput versus access skew", [name],
            "Modeled examples per second of every algorithm against the zipf exponent of row access (below: relative "
            f"to uniform access), at {human_bytes(first['table_bytes'])} of tables placed where one would put them: "
            f"{'; '.join(places)}. From uniform access to zipf {max(zipf_of(r) for r in skew + skew_cache):g}, " +
            "; ".join(notes) + f". Skew concentrates the lookups on fewer rows, which the caches serve: {most}, "
            "while the dense noisy updates stream every row whatever the access pattern.",
            "\n".join(table_md))


# 11. Scale-out: step time and time per epoch against the number of GPUs, and where a step's time goes.
SCALE_OUT_GROUPS = [
    ("embedding lookups (fwd.emb, bwd.emb)", ["fwd.emb", "bwd.emb"], "#4c72b0"),
    ("MLPs (fwd.mlp, bwd.mlp, update.mlp)", ["fwd.mlp", "bwd.mlp", "update.mlp"], "#8da0cb"),
    ("DP norms and clipping (dp.norm, dp.clip)", ["dp.norm", "dp.clip"], "#e5c494"),
    ("noise and table updates (dp.update, update.sparse)", ["dp.update", "update.sparse"], "#c44e52"),
    ("lazydp/adafest extras (lazydp.catchup, adafest.select)", ["lazydp.catchup", "adafest.select"], "#55a868"),
    ("communication (comm.*)", ["comm.ids", "comm.fwd", "comm.bwd", "comm.norm", "comm.contrib", "comm.grads",
                                "comm.next"], "#999999"),
]
PLACEMENT_MARKERS = {"device": "o", "host": "s"}


def scale_out_points(device_rows, host_rows):
    """{(table_bytes, devices, algo): row}: tables in device memory where a plan fits, else in host memory, else
    absent."""
    pts = {}
    for rows in (host_rows, device_rows):  # device rows replace host rows
        for r in rows:
            if r.get("fits") == "true" and isinstance(r.get("step_ms"), float):
                pts[(r["table_bytes"], int(r["devices"]), r["algo"])] = r
    return pts


def step_stage_ms(r):
    """A scale-out row's per-step time by stage group (the once-per-run stages left out), and what no group takes."""
    vals = [sum(r.get(st + "_ms", 0.0) or 0.0 for st in stages) for _, stages, _ in SCALE_OUT_GROUPS]
    return vals, r["step_ms"] - sum(vals)


def scale_out_lines(ax, bx, pts, size, algos, devs):
    for a in algos:
        xs = [d for d in devs if (size, d, a) in pts]
        if not xs:
            continue
        rows = [pts[(size, d, a)] for d in xs]
        for axis, key, scale in ((ax, "step_ms", 1), (bx, "wall_h", 1)):
            ys = [r[key] * scale if isinstance(r.get(key), float) else float("nan") for r in rows]
            axis.plot(xs, ys, "-", lw=1.2, color=COLORS[a])
            for where, m in PLACEMENT_MARKERS.items():
                sel = [(x, y) for x, y, r in zip(xs, ys, rows) if r["tables_in"] == where]
                if sel:
                    axis.plot([p[0] for p in sel], [p[1] for p in sel], m, ms=5, color=COLORS[a],
                              mfc=COLORS[a] if where == "device" else "white")
    for axis, ylabel in ((ax, "modeled step time (ms, log)"), (bx, "time per epoch (wall hours, log)")):
        for d in devs:
            if not any((size, d, a) in pts for a in algos):
                axis.text(d, 0.5, "no placement fits", transform=axis.get_xaxis_transform(), rotation=90,
                          ha="center", va="center", fontsize=8, color="#888888")
        axis.set_xscale("log", base=2)
        axis.set_yscale("log")
        axis.set_xticks(devs)
        axis.set_xticklabels([f"{d}" for d in devs])
        axis.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        axis.set_xlim(devs[0] / 1.3, devs[-1] * 1.3)
        axis.set_xlabel("H100 GPUs (8 per DGX node)")
        axis.set_ylabel(ylabel)
        axis.grid(True, which="both", alpha=0.3)
    ax.set_title(f"{human_bytes(size)} of tables: step time", fontsize=10)
    bx.set_title(f"{human_bytes(size)} of tables: time per epoch", fontsize=10)


def scale_out_bars(axes, pts, size, algos, counts):
    for ax, d in zip(axes, counts):
        shown = [a for a in algos if (size, d, a) in pts]
        for i, a in enumerate(shown):
            r = pts[(size, d, a)]
            vals, rest = step_stage_ms(r)
            bottom = 0.0
            for (label, _, color), v in zip(SCALE_OUT_GROUPS, vals + []):
                share = 100 * v / r["step_ms"]
                ax.bar(i, share, 0.75, bottom=bottom, color=color, label=label)
                bottom += share
            if rest > 1e-9 * r["step_ms"]:
                ax.bar(i, 100 * rest / r["step_ms"], 0.75, bottom=bottom, color="k", label="other")
            ms = r["step_ms"]
            ax.text(i, 101.5, f"{ms:,.0f}" if ms >= 100 else f"{ms:.3g}", ha="center", va="bottom", fontsize=7,
                    rotation=90)
        ax.set_xticks(range(len(shown)))
        ax.set_xticklabels([f"{a} ({pts[(size, d, a)]['tables_in']})" for a in shown], rotation=45, ha="right",
                           fontsize=8)
        ax.set_ylim(0, 122)
        ax.set_yticks(range(0, 101, 20))
        ax.set_title(f"{human_bytes(size)} on {d} GPUs", fontsize=10)
    axes[0].set_ylabel("share of the step (%); step ms above")


def scale_out_counts(pts, size, devs, wanted=(8, 64, 256)):
    """The GPU counts of the stage panels: each wanted count, or the smallest count that fits above it;
    filled up with the counts between when two coincide."""
    fitting = sorted({d for (s, d, _) in pts if s == size})
    picked = []
    for w in wanted:
        c = next((d for d in fitting if d >= w), None)
        if c is not None and c not in picked:
            picked.append(c)
    for d in fitting:
        if len(picked) >= len(wanted):
            break
        if d not in picked:
            picked.append(d)
    return sorted(picked)


def scale_out_table(pts, sizes, algos, devs):
    md = ["| tables | GPUs | " + " | ".join(algos) + " |", "|---|---|" + "---|" * len(algos)]
    for size in sizes:
        for d in devs:
            cells = []
            for a in algos:
                r = pts.get((size, d, a))
                cells.append(f"{r['step_ms']:.3g} ms, {r['wall_h']:.3g} h ({r['tables_in']})" if r else "does not fit")
            md.append(f"| {human_bytes(size)} | {d} | " + " | ".join(cells) + " |")
    return "\n".join(md)


def fig_scale_out(rep):
    device_rows = read_csv(os.path.join(rep.data, "scale_out_device.csv"))
    host_rows = read_csv(os.path.join(rep.data, "scale_out_host.csv"))
    if not device_rows and not host_rows:
        rep.skip("11. Scale-out", "no scale-out sweep (privrec report runs it for --model mlperf-dlrm: its 1 TB and "
                 "10 TB of tables need a cluster)")
        return
    rows = device_rows + host_rows
    pts = scale_out_points(device_rows, host_rows)
    sizes = sorted({r["table_bytes"] for r in rows})
    devs = sorted({int(r["devices"]) for r in rows})
    algos = [a for a in ALGOS if any(r["algo"] == a for r in rows)]
    big = sizes[-1]
    counts = scale_out_counts(pts, big, devs)
    fig = plt.figure(figsize=(13, 5.2 * len(sizes) + 5.2))
    outer = fig.add_gridspec(len(sizes) + 1, 1, height_ratios=[1] * len(sizes) + [1.1], hspace=0.38)
    for i, size in enumerate(sizes):
        g = outer[i].subgridspec(1, 2, wspace=0.25)
        scale_out_lines(fig.add_subplot(g[0]), fig.add_subplot(g[1]), pts, size, algos, devs)
    if counts:
        g = outer[len(sizes)].subgridspec(1, len(counts), wspace=0.08)
        bar_axes = [fig.add_subplot(g[0])]
        bar_axes += [fig.add_subplot(g[k], sharey=bar_axes[0]) for k in range(1, len(counts))]
        for ax in bar_axes[1:]:
            plt.setp(ax.get_yticklabels(), visible=False)
        scale_out_bars(bar_axes, pts, big, algos, counts)
        handles = [matplotlib.patches.Patch(color=c, label=l) for l, _, c in SCALE_OUT_GROUPS]
        fig.legend(handles=handles, fontsize=8, loc="lower center", ncol=3, bbox_to_anchor=(0.5, 0.0))
    algo_handles = [matplotlib.lines.Line2D([], [], color=COLORS[a], lw=1.5, label=a) for a in algos]
    place_handles = [matplotlib.lines.Line2D([], [], ls="", marker="o", color="k", label="tables in device memory"),
                     matplotlib.lines.Line2D([], [], ls="", marker="s", color="k", mfc="white",
                                             label="tables in host memory")]
    fig.legend(handles=algo_handles + place_handles, loc="upper center", ncol=5, fontsize=8,
               bbox_to_anchor=(0.5, 0.975))
    r0 = rows[0]
    fig.suptitle(f"Scale-out on {r0['cluster']} nodes ({r0['model']}, batch {r0['batch']:,.0f}, every algorithm at "
                 f"epsilon {r0['epsilon'] if isinstance(r0.get('epsilon'), float) else 1:g}, modeled)", fontsize=11,
                 y=0.995)
    fig.subplots_adjust(top=0.93, bottom=0.1, left=0.07, right=0.98)
    name = rep.save(fig, "fig11_scale_out")
    rep.add("11. Scale-out on a cluster", [name], scale_out_caption(rows, pts, sizes, algos, devs, counts),
            scale_out_table(pts, sizes, algos, devs))


def scale_out_caption(rows, pts, sizes, algos, devs, counts):
    r0 = rows[0]
    eps = next((r["epsilon"] for r in rows if isinstance(r.get("epsilon"), float)), None)
    steps = next((r["steps"] for r in rows if isinstance(r.get("steps"), float)), None)
    text = (f"{r0['model']} at {' and '.join(human_bytes(s) for s in sizes)} of tables, batch {r0['batch']:,.0f}, on "
            f"{devs[0]} to {devs[-1]} H100s ({r0['cluster']} nodes of 8, NVLink inside a node, one 400 Gb/s NIC per "
            "GPU between nodes), the sharding chosen by the planner for each case. Placement: the tables go in the "
            "GPUs' memory where a sharding fits, else in each node's host memory (2 TB, shared by its 8 GPUs; open "
            "squares), and a point is absent where neither fits. ")
    absent = [f"{human_bytes(s)} on {d} GPUs" for s in sizes for d in devs
              if not any((s, d, a) in pts for a in algos)]
    if absent:
        text += f"Nothing fits at {and_list(absent)}. "
    if eps is not None and steps is not None:
        text += (f"Every DP algorithm's noise is set for epsilon {eps:g} (delta {r0['delta']:g}) over one epoch of "
                 f"the preset's data set (Criteo 1TB: {num(steps)} steps of {r0['batch']:,.0f} examples; "
                 "dp-fest's one-shot histogram at --fest-sigma 8); time per epoch is those steps at the modeled step "
                 "time plus the once-per-run stages. ")
    big = sizes[-1]
    notes = []
    for a in ("lazydp", "dpsgd-f"):
        have = [d for d in devs if (big, d, a) in pts]
        if have:
            lo, hi = pts[(big, have[0], a)], pts[(big, have[-1], a)]
            notes.append(f"{a} {num(lo['step_ms'])} ms per step on {have[0]} GPUs ({lo['tables_in']} memory) and "
                         f"{num(hi['step_ms'])} ms on {have[-1]} ({hi['tables_in']}), {num(hi['wall_h'])} h per epoch")
    if notes:
        text += f"At {human_bytes(big)}: " + "; ".join(notes) + ". "
    top = [(d, a) for d in reversed(devs) for a in ("lazydp", "sgd") if (big, d, a) in pts]
    if top:
        d, a = top[0]
        r = pts[(big, d, a)]
        text += (f"Communication is {100 * r['comm_ms'] / r['step_ms']:.0f} % of {a}'s step on {d} GPUs: once the "
                 "tables are spread, the all-to-alls of ids and pooled embeddings and the all-reduces dominate every "
                 "algorithm without a dense noisy update. ")
    if counts:
        text += (f"Below: where the step's time goes at {human_bytes(big)} on {and_list([str(c) for c in counts])} "
                 "GPUs (the smallest count where a placement fits stands in for 8), as shares of each algorithm's "
                 "step (its total in ms above the bar; lazydp's flush and dp-fest's selection run once per run and are "
                 "left out).")
    return text


def write(rep):
    html_parts = ["<!doctype html><meta charset='utf-8'><title>privrec report</title>",
                  "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}img{max-width:100%}"
                  "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px}</style>",
                  "<h1>privrec characterization report</h1>"]
    md = ["# privrec characterization report", ""]
    for title, images, caption, table in rep.sections:
        html_parts.append(f"<h2>{html.escape(title)}</h2>")
        md += [f"## {title}", ""]
        for im in images:
            svg = f"<br><a href='{im}.svg'>SVG</a>" if rep.svg else ""
            html_parts.append(f"<p><img src='{im}.png' alt='{html.escape(title)}'>{svg}</p>")
            md += [f"![{title}]({im}.png)", ""]
        html_parts.append(f"<p>{html.escape(caption)}</p>")
        md += [caption, ""]
        if table:
            lines = [l.strip("|").split("|") for l in table.splitlines()]
            html_parts.append("<table>" + "".join(
                "<tr>" + "".join(f"<{'th' if i == 0 else 'td'}>{html.escape(c.strip())}</{'th' if i == 0 else 'td'}>"
                                 for c in cells) + "</tr>"
                for i, cells in enumerate(lines) if i != 1) + "</table>")
            md += [table, ""]
    if rep.skipped:
        html_parts.append("<h2>Left out</h2><ul>" + "".join(
            f"<li>{html.escape(t)}: {html.escape(w)}</li>" for t, w in rep.skipped) + "</ul>")
        md += ["## Left out", ""] + [f"- {t}: {w}" for t, w in rep.skipped] + [""]
    write_text(os.path.join(rep.out, "index.html"), "\n".join(html_parts) + "\n")
    write_text(os.path.join(rep.out, "report.md"), "\n".join(md) + "\n")


def main():
    args = [a for a in sys.argv[1:] if a != "--png-only"]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    rep = Report(args[0], svg="--png-only" not in sys.argv)
    if not os.path.isdir(rep.data):
        print(f"render_report: {rep.data} is missing (run privrec report)", file=sys.stderr)
        return 2
    sizes = read_csv(os.path.join(rep.data, "sizes.csv"))
    if sizes:
        fig_breakdown(rep, sizes)
    else:
        rep.skip("1. Per-stage breakdown", "no table-size sweep")
    fig_update_split(rep)
    if sizes:
        fig_throughput(rep, sizes)
    else:
        rep.skip("3. Throughput", "no table-size sweep")
    fig_heatmap(rep, read_csv(os.path.join(rep.data, "batch_size.csv")))
    fig_measured(rep)
    fig_tau(rep, read_csv(os.path.join(rep.data, "adafest_tau.csv")))
    fig_roofline(rep)
    skew = read_csv(os.path.join(rep.data, "skew.csv"))
    fig_sensitivity(rep, read_csv(os.path.join(rep.data, "pooling.csv")), skew)
    fig_device_cache(rep)
    fig_skew(rep, skew, read_csv(os.path.join(rep.data, "skew_device_cache.csv")))
    fig_scale_out(rep)
    write(rep)
    print(f"render_report: {len(rep.sections)} figures, {len(rep.skipped)} left out")
    return 0


def _on_sigterm(signum, frame):
    print("render_report: interrupted (SIGTERM); no figure was left half written", file=sys.stderr)
    raise SystemExit(143)  # unwinds through write_atomically's cleanup


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # SIGINT: one line and the shell's status, no traceback
        print("render_report: interrupted (SIGINT); no figure was left half written", file=sys.stderr)
        sys.exit(130)
