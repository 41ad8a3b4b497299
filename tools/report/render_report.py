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
import io
import json
import math
import os
import re
import signal
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.colors  # noqa: E402
import matplotlib.lines  # noqa: E402
import matplotlib.patches  # noqa: E402
import matplotlib.ticker  # noqa: E402

ALGOS = ["sgd", "dpsgd-b", "dpsgd-r", "dpsgd-f", "eana", "lazydp", "adafest", "dp-fest"]
STAGES = ["fwd.emb", "fwd.mlp", "bwd.mlp", "bwd.emb", "dp.norm", "dp.clip", "dp.update", "update.mlp",
          "update.sparse", "lazydp.catchup", "adafest.select"]
# One fixed colour per algorithm in every figure, from a qualitative palette (Tableau 10) with no
# two alike; the two algorithms without a DP guarantee are grey and olive and drawn dashed.
COLORS = {"sgd": "#7f7f7f", "dpsgd-b": "#8c564b", "dpsgd-r": "#e377c2", "dpsgd-f": "#d62728", "eana": "#bcbd22",
          "lazydp": "#2ca02c", "adafest": "#1f77b4", "dp-fest": "#9467bd"}
NOT_DP = {"sgd": "no privacy", "eana": "not DP"}
# One distinct colour per stage (Tableau 10 and black; no light/dark pairs).
STAGE_COLORS = ["#1f77b4", "#17becf", "#7f7f7f", "#9467bd", "#ff7f0e", "#bcbd22", "#d62728", "#8c564b", "#e377c2",
                "#2ca02c", "#000000"]


def line_style(algo):
    return "--" if algo in NOT_DP else "-"


def eps_text(rows, algo):
    """The epsilon the data reached for `algo` (its CSV rows' epsilon column), as text: "1.00", a range where
    the rows differ, or None without a value."""
    vals = sorted({f"{r['epsilon']:.2f}" for r in rows if r.get("algo") == algo and isinstance(r.get("epsilon"), float)},
                  key=float)
    if not vals:
        return None
    return vals[0] if len(vals) == 1 else f"{vals[0]}-{vals[-1]}"


def algo_label(algo, rows=()):
    """An algorithm's name for legends and tables: sgd and eana marked as giving no DP guarantee, every DP
    algorithm with the epsilon its rows reached."""
    if algo in NOT_DP:
        return f"{algo} ({NOT_DP[algo]})"
    e = eps_text(rows, algo)
    return f"{algo} (ε={e})" if e else f"{algo} (no ε: not accounted)"


def sim_label(j):
    """algo_label for a simulate JSON (its privacy block)."""
    a = j["algorithm"]["name"]
    e = (j.get("privacy") or {}).get("epsilon")
    return algo_label(a, [{"algo": a, "epsilon": float(e)}] if isinstance(e, (int, float)) else [])


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


def save_png(fig, path):
    """The figure as a PNG of 256 colours where Pillow is there (matplotlib's own dependency: a third of the size,
    no visible change for line art; the SVG keeps every colour), else as matplotlib writes it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    try:
        from PIL import Image
    except ImportError:
        with open(path, "wb") as f:
            f.write(buf.getvalue())
        return
    buf.seek(0)
    Image.open(buf).convert("RGB").quantize(colors=256).save(path, format="png", optimize=True)


class Report:
    def __init__(self, out, svg=True):
        self.out = out
        self.svg = svg
        self.data = os.path.join(out, "data")
        self.sections = []  # (title, [images], caption, table_html, table_md)
        self.skipped = []
        path = os.path.join(self.data, "config.json")
        self.config = {}
        if os.path.exists(path):
            with open(path) as f:
                self.config = json.load(f)
        self.left_out = (self.config.get("privacy") or {}).get("left_out", {})

    def why_missing(self, default, algos):
        """Why a figure has no data: the algorithms it compares that were left out (they cannot meet the target
        epsilon), else `default`."""
        gone = [a for a in algos if a in self.left_out]
        if not gone:
            return default
        return "; ".join(f"{a} was left out ({self.left_out[a]})" for a in gone)

    def save(self, fig, name):
        write_atomically(os.path.join(self.out, name + ".png"), lambda tmp: save_png(fig, tmp))
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
    """What a profile's tables may fill (GB: simulate's table_capacity_GB, a device's usable share or
    a host's whole memory) and a label for it, from any simulate JSON of it."""
    for path in glob.glob(os.path.join(rep.data, f"sim_{hw}_*.json")):
        with open(path) as f:
            j = json.load(f)
        h = j["hardware"]
        where = h.get("tables_in", "device")
        side = h.get("host") if where == "host" else h["device"]
        whole = side["memory_GB"]
        usable = j.get("table_capacity_GB", whole)
        name = j.get("table_memory", f"{where} memory")  # "main memory" for a CPU's own
        return usable, (name if usable >= whole else f"usable of {whole:.3g} GB {name}")
    return None, None


# 1. Per-stage breakdown versus table size, normalized to sgd.
def breakdown_panel(ax, sr, base_ms, algos):
    """One table size's stacked bars (log axis: the top of each segment is the running total), each bar's total
    written above it. Returns the bar totals."""
    bottom = [0.0] * len(algos)
    for si, st in enumerate(STAGES):
        vals = [by(sr, algo=a)[0].get(st + "_ms", 0.0) / base_ms for a in algos]
        if any(v > 0 for v in vals):
            ax.bar(range(len(algos)), vals, bottom=bottom, color=STAGE_COLORS[si], label=st, width=0.7,
                   edgecolor="white", linewidth=0.3)
            bottom = [b + v for b, v in zip(bottom, vals)]
    for x, total in enumerate(bottom):
        ax.text(x, total * 1.25, f"{total:,.0f}x" if total >= 100 else f"{total:.2g}x", ha="center", va="bottom",
                fontsize=7, rotation=90)
    ax.axhline(1, color="k", lw=0.6, ls=":")
    ax.set_xticks(range(len(algos)))
    ax.set_xticklabels([algo_label(a, sr) for a in algos], rotation=50, ha="right", fontsize=7)
    ax.set_xlim(-0.7, len(algos) - 0.3)
    ax.set_yscale("log")
    ax.grid(True, axis="y", which="major", alpha=0.3)
    return bottom


def fig_breakdown(rep, rows):
    for hw in hardware_of(rows):
        hr = by(rows, hardware=hw)
        scales = sorted({r["table_scale"] for r in hr})
        n = len(scales)
        cols = min(3, n)
        fig, axes = plt.subplots((n + cols - 1) // cols, cols, figsize=(4.4 * cols, 3.9 * ((n + cols - 1) // cols)),
                                 squeeze=False, sharey=True)
        worst, lowest, highest = [], [], []
        for i, sc in enumerate(scales):
            ax = axes[i // cols][i % cols]
            sr = by(hr, table_scale=sc)
            base = by(sr, algo="sgd")
            if not base:
                continue
            algos = [a for a in ALGOS if by(sr, algo=a)]
            totals = breakdown_panel(ax, sr, base[0]["step_ms"], algos)
            first = [by(sr, algo=a)[0].get(STAGES[0] + "_ms", 0.0) / base[0]["step_ms"] for a in algos]
            lowest.append(min([v for v in first if v > 0] or [0.1]))
            highest.append(max(totals))
            ax.set_title(f"tables {human_bytes(sr[0]['table_bytes'])}", fontsize=10)
            if i % cols == 0:
                ax.set_ylabel("step time / sgd's step time (log)")
            worst.append((sr[0]["table_bytes"], max(zip(totals, algos))))
        for ax in axes.flat:
            ax.set_ylim(max(1e-3, min(lowest) / 2), max(highest) * 40)  # room for the totals above the bars
        for j in range(n, axes.size):
            axes[j // cols][j % cols].axis("off")
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=6, fontsize=8, bbox_to_anchor=(0.5, -0.02))
        fig.suptitle(f"Where a training step's time goes, per stage, versus table size ({hr[0]['model']} on {hw}, "
                     "modeled; log scale, dotted: sgd's step)", fontsize=11)
        fig.tight_layout(rect=(0, 0.06, 1, 0.95))
        name = rep.save(fig, f"fig1_breakdown_{hw}")
        small, large = worst[0], worst[-1]
        rep.add(f"1. Per-stage breakdown versus table size ({hw})", [name],
                f"Each bar is one algorithm's modeled step, stacked by stage and divided by sgd's step at the same "
                f"table size, on a log scale (the top of each segment is the running total; the total is written "
                f"above the bar). At {human_bytes(small[0])} of tables the slowest algorithm ({small[1][1]}) takes "
                f"{num(small[1][0])}x sgd's step, mostly in its per-example gradients (dp.norm, dp.clip); at "
                f"{human_bytes(large[0])} the slowest ({large[1][1]}) takes {num(large[1][0])}x, almost all of it in "
                f"dp.update, because dpsgd-b/r/f sample noise for and rewrite every table row every step while sgd, "
                f"eana and lazydp touch only the batch's rows (adafest: the rows its noisy selection passes, whose "
                f"false positives grow with the table).")


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
    algos = [a for a in ALGOS if by(rows, algo=a)]
    table_md = ["| profile | table size | " + " | ".join(f"{algo_label(a, rows)}: examples/s" for a in algos) + " |",
                "|---|---|" + "---|" * len(algos)]
    notes = []
    for i, hw in enumerate(hws):
        ax = axes[0][i]
        hr = by(rows, hardware=hw)
        for a in algos:
            pts = sorted((r["table_bytes"], r["throughput_examples_per_s"]) for r in by(hr, algo=a))
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3, label=algo_label(a, hr),
                        color=COLORS[a], ls=line_style(a))
        ax.set_xscale("log")
        ax.set_yscale("log")
        mem, where = profile_memory(rep, hw)
        if mem:
            ax.axvline(mem * 1e9, color="k", ls="--", lw=1)
            ax.text(mem * 1e9, 0.04, f" {where}\n {mem:.3g} GB", fontsize=8, transform=ax.get_xaxis_transform())
        ax.set_xlabel("embedding table size (bytes)")
        ax.set_ylabel("training throughput (examples/s)")
        ax.set_title(hw, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        if i == 0:
            ax.legend(fontsize=8)
        for sc in sorted({r["table_scale"] for r in hr}):
            sr = by(hr, table_scale=sc)
            vals = [f"{by(sr, algo=a)[0]['throughput_examples_per_s']:,.0f}" if by(sr, algo=a) else "" for a in algos]
            table_md.append(f"| {hw} | {human_bytes(sr[0]['table_bytes'])} | " + " | ".join(vals) + " |")
        big = max(hr, key=lambda r: r["table_bytes"])["table_bytes"]
        f = by(hr, table_bytes=big, algo="dpsgd-f")
        l = by(hr, table_bytes=big, algo="lazydp")
        if f and l:
            notes.append(f"on {hw} at {human_bytes(big)} lazydp trains {num(l[0]['throughput_examples_per_s'])} "
                         f"examples/s against dpsgd-f's {num(f[0]['throughput_examples_per_s'])} "
                         f"({num(l[0]['throughput_examples_per_s'] / f[0]['throughput_examples_per_s'])}x)")
    fig.suptitle(f"Throughput versus table size ({rows[0]['model']}, modeled; vertical dashed line: where the tables "
                 "stop fitting; dashed curves: no DP guarantee)", fontsize=11)
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
            "the tables exceed what the profile's memory holds for them (a device's usable 90 %, a host's whole "
            "memory) and the prediction assumes it were large enough.",
            "\n".join(table_md))


# 4. lazydp's speedup over dpsgd-f, heatmap over batch size and table size: a diverging colour map
# centred at 1x (blue: lazydp faster, red: slower) with the 1x contour drawn.
def speedup_grid(hr, batches, sizes):
    grid = []
    for b in batches:
        line = []
        for s in sizes:
            f = by(hr, batch=b, table_bytes=s, algo="dpsgd-f")
            l = by(hr, batch=b, table_bytes=s, algo="lazydp")
            line.append(f[0]["step_ms"] / l[0]["step_ms"] if f and l else float("nan"))
        grid.append(line)
    return grid


def times(v):
    """A speedup for a label: 0.85x, 12.8x, 11,788x."""
    return f"{v:,.0f}x" if v >= 100 else f"{v:.3g}x"


def draw_speedup(ax, grid):
    """The grid on a diverging map centred at 1x (each side scaled to its own extreme, at least 2x, so cells just
    below 1x stand out), the 1x contour, and every cell's value."""
    logs = [[math.log10(v) for v in line] for line in grid]
    flat = [v for line in logs for v in line if v == v]
    norm = matplotlib.colors.TwoSlopeNorm(vcenter=0, vmin=min(-0.3, min(flat)), vmax=max(0.3, max(flat)))
    im = ax.imshow(logs, cmap="RdBu", norm=norm, aspect="auto", origin="lower")
    crossed = min(flat) < 0 < max(flat)
    if crossed:
        ax.contour(logs, levels=[0], colors="k", linewidths=1.5)
    for yi, line in enumerate(grid):
        for xi, v in enumerate(line):
            shade = norm(math.log10(v))
            ax.text(xi, yi, times(v), ha="center", va="center", fontsize=7,
                    color="w" if shade < 0.2 or shade > 0.75 else "k", fontweight="bold" if v < 1 else "normal")
    return im, crossed


def fig_heatmap(rep, rows):
    if not rows:
        rep.skip("4. lazydp speedup heatmap", rep.why_missing("no batch-size sweep", ["dpsgd-f", "lazydp"]))
        return
    for hw in hardware_of(rows):
        hr = by(rows, hardware=hw)
        batches = sorted({r["batch"] for r in hr})
        sizes = sorted({r["table_bytes"] for r in hr})
        grid = speedup_grid(hr, batches, sizes)
        fig, ax = plt.subplots(figsize=(1.3 * len(sizes) + 2.4, 0.55 * len(batches) + 1.8))
        im, crossed = draw_speedup(ax, grid)
        ax.set_xticks(range(len(sizes)))
        ax.set_xticklabels([human_bytes(s) for s in sizes], fontsize=8)
        ax.set_yticks(range(len(batches)))
        ax.set_yticklabels([f"{b:.0f}" for b in batches], fontsize=8)
        ax.set_xlabel("embedding table size")
        ax.set_ylabel("batch size (examples)")
        lo_hi = (im.norm.vmin, im.norm.vmax)
        below = (0.01, 0.1, 0.3) if lo_hi[0] < -1 else (0.5, 0.7, 0.85)  # each side's ticks as its range allows
        above = (10, 100, 1e3, 1e4, 1e5, 1e6) if lo_hi[1] > 1 else (1.2, 1.5, 2)
        ticks = [math.log10(t) for t in below + (1,) + above if lo_hi[0] <= math.log10(t) <= lo_hi[1]]
        cb = fig.colorbar(im, ax=ax, ticks=ticks, format=matplotlib.ticker.FuncFormatter(lambda v, _: times(10 ** v)))
        cb.set_label("dpsgd-f step / lazydp step (log)\nblue: lazydp faster, red: slower")
        ax.set_title(f"lazydp's speedup over dpsgd-f ({hr[0]['model']} on {hw}, modeled;\n"
                     f"{algo_label('lazydp', hr)} and {algo_label('dpsgd-f', hr)}"
                     + ("; black line: 1x)" if crossed else ")"), fontsize=9)
        name = rep.save(fig, f"fig4_lazydp_speedup_{hw}")
        lo = min(min(line) for line in grid)
        hi = max(max(line) for line in grid)
        slower = [(b, s) for b, line in zip(batches, grid) for s, v in zip(sizes, line) if v < 1]
        where = (f"lazydp is slower than dpsgd-f (below 1x, red, inside the black line) in {len(slower)} of "
                 f"{len(batches) * len(sizes)} cells, the largest tables there {human_bytes(max(s for _, s in slower))}"
                 if slower else "lazydp is faster than dpsgd-f in every cell")
        rep.add(f"4. lazydp's speedup over dpsgd-f ({hw})", [name],
                f"dpsgd-f's step time over lazydp's, by batch size and table size, both at the same epsilon (each "
                f"batch's noise set for it): from {num(lo)}x to {num(hi)}x; {where}. The gap grows with the table "
                "(dpsgd-f's dense update scales with it, lazydp's catch-up with the batch's rows) and shrinks with the "
                "batch (both do more per-example work, and lazydp's catch-up touches more rows).")


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
def adafest_sigma1(rep, row):
    """adafest's selection noise sigma1 in a sweep row: its effective noise multiplier split by the selection
    budget (sigma1 / C1 = sigma_eff / sqrt(budget)), or None without one."""
    priv, clip = rep.config.get("privacy") or {}, rep.config.get("clip") or {}
    if not isinstance(row.get("noise_multiplier"), float):
        return None
    return row["noise_multiplier"] / math.sqrt(priv.get("adafest_selection_budget", 0.5)) * clip.get("adafest_C1", 1.0)


def fig_tau(rep, rows):
    if not rows:
        rep.skip("6. adafest versus tau", rep.why_missing("no tau sweep", ["adafest"]))
        return
    for hw in hardware_of(rows):
        hr = by(rows, hardware=hw)
        ada = sorted(by(hr, algo="adafest"), key=lambda r: r["adafest_tau"])
        if not ada:
            continue
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4))
        taus = [r["adafest_tau"] for r in ada]
        ax.plot(taus, [r["rows_updated_per_step"] for r in ada], "o-", color=COLORS["adafest"],
                label=algo_label("adafest", hr))
        for a in ("dpsgd-f", "lazydp"):
            r = by(hr, algo=a)
            if r:
                ax.axhline(r[0]["rows_updated_per_step"], color=COLORS[a], ls="--", label=algo_label(a, hr))
                bx.axhline(r[0]["step_ms"], color=COLORS[a], ls="--", label=algo_label(a, hr))
        bx.plot(taus, [r["step_ms"] for r in ada], "o-", color=COLORS["adafest"], label=algo_label("adafest", hr))
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
        s1 = adafest_sigma1(rep, ada[0])
        noise = f"With sigma1 = {s1:.3g} (its share of the budget at epsilon {eps_text(hr, 'adafest')})" if s1 else \
            "With the default sigma1 = 1"
        others = [f"{a}'s {num(by(hr, algo=a)[0]['step_ms'])} ms" for a in ("dpsgd-f", "lazydp") if by(hr, algo=a)]
        rep.add(f"6. adafest versus its threshold ({hw})", [name],
                f"{noise}, tau {taus[0]:g} selects {ada[0]['rows_updated_per_step']:,.0f} rows per step "
                f"(false positives dominate: an untouched row passes with probability Q(tau/sigma1)), tau "
                f"{taus[-1]:g} only {ada[-1]['rows_updated_per_step']:,.0f}; the step goes from "
                f"{num(ada[0]['step_ms'])} to {num(ada[-1]['step_ms'])} ms" +
                (f", against {and_list(others)}." if others else "."))


# 7. Every stage on the hardware's roofline, one panel per kind of work the model has a roof for: arithmetic
# (flops; GEMM and vector peaks), noise sampling (normals; the RNG rate) and sorting (sort operations; the sort
# rate), each against the memory bandwidths (streaming and row-random) and, with a host, the link. The model's
# own points are filled (modeled time); validate's are hollow (measured time, the same work counts).
ROOF_PANELS = [  # (title, work key, peak key(s) of the processor, unit of the rate, x label)
    ("arithmetic", "flops", ("gemm_GFLOPps", "vector_GFLOPps"), "GFLOP/s", "flops per byte moved"),
    ("noise sampling", "rng_samples", ("rng_normals_per_s",), "G normals/s", "normals per byte moved"),
    ("sorting", "sort_ops", ("sort_ops_per_s",), "G sort operations/s", "sort operations per byte moved"),
]
STAGE_MARKERS = dict(zip(STAGES, ["o", "s", "^", "v", "D", "P", "X", "*", "h", "<", ">"]))
PEAK_NAMES = {"gemm_GFLOPps": "GEMM", "vector_GFLOPps": "vector", "rng_normals_per_s": "RNG",
              "sort_ops_per_s": "sort"}


def peak_rate(proc, key):
    """A processor's peak in the panel's unit (G per second)."""
    return proc[key] / 1e9 if key.endswith("_per_s") else proc[key]


def stage_side(h, s):
    """The processor a stage ran on: the table side for table stages (the host for host tables without a device
    cache), else the device."""
    if s.get("runs_on") == "host" or (s.get("runs_on") == "tables" and h.get("tables_in") == "host"
                                     and not h.get("device_cache")):
        return "host"
    return "device"


def roof_point(s, key, ms):
    """(intensity, attained rate) of a stage for the panel's work, or None without that work."""
    b = s["bytes_read"] + s["bytes_written"]
    w = s.get(key, 0) or 0
    if w <= 0 or b <= 0 or ms <= 0:
        return None
    return w / b, w / (ms * 1e6)


def draw_roofs(ax, h, peaks, unit, xs):
    """Every roof of the panel: per processor, its peaks under its streaming and row-random bandwidth slopes, and
    the link's slope where there is one."""
    procs = [("device", h["device"], "k")] + ([("host", h["host"], "#8c564b")] if h.get("host") else [])
    for pname, p, color in procs:
        for k, key in enumerate(peaks):
            top = peak_rate(p, key)
            ax.plot(xs, [min(top, p["stream_GBps"] * x) for x in xs], "-" if k == 0 else "-.", color=color, lw=1.1,
                    label=f"{pname} {PEAK_NAMES[key]} {num(top)} {unit} under streaming {num(p['stream_GBps'])} GB/s")
        top = peak_rate(p, peaks[0])
        if p.get("random_GBps"):
            ax.plot(xs, [min(top, p["random_GBps"] * x) for x in xs], "--", color=color, lw=0.9,
                    label=f"{pname} row-random {num(p['random_GBps'])} GB/s")
        for c in p.get("caches") or []:  # what a working set that fits in a cache can reach
            ax.plot(xs, [min(top, c["stream_GBps"] * x) for x in xs], ls=(0, (1, 2)), color=color, lw=0.8,
                    label=f"{pname} {c['name']} ({num(c['capacity_MB'])} MB) {num(c['stream_GBps'])} GB/s")
    link = (h.get("link") or {}).get("GBps") if isinstance(h.get("link"), dict) else h.get("link_GBps")
    if link:
        top = peak_rate(h["device"], peaks[0])
        ax.plot(xs, [min(top, link * x) for x in xs], ":", color="#9467bd", lw=1.3,
                label=f"link {num(link)} GB/s (bytes that cross it)")


def roof_at(h, s, peaks, x):
    """The roof above a stage at intensity x: its processor's peak for the work (vector, not GEMM, for arithmetic
    without matrix products) under its fastest memory level's streaming bandwidth (a cache's, where it has one)."""
    p = h.get(stage_side(h, s)) or h["device"]
    key = peaks[1] if len(peaks) > 1 and not s.get("gemm_flops") else peaks[0]
    fastest = max([p["stream_GBps"]] + [c["stream_GBps"] for c in p.get("caches") or []])
    return min(peak_rate(p, key), fastest * x)


def measured_points(rep):
    """{profile: [(algo, stage JSON with the work counts, measured ms, case label)]} from the --measured validate
    reports and the work simulate computed for each of their cases."""
    out = {}
    for path in sorted(glob.glob(os.path.join(rep.data, "measured_*.json"))):
        base = os.path.basename(path)[len("measured_"):-len(".json")]
        if not base.isdigit():
            continue
        with open(path) as f:
            v = json.load(f)
        for k, c in enumerate(v.get("cases", [])):
            work_path = os.path.join(rep.data, f"measured_{base}_work_{k}.json")
            if not os.path.exists(work_path):
                continue
            with open(work_path) as f:
                work = {s["name"]: s for s in json.load(f)["stages"]}
            for st in c["stages"]:
                if st["name"] in work and st.get("measured_ms", 0) > 0:
                    out.setdefault(v["hardware"]["name"], []).append(
                        (c["case"]["algo"], work[st["name"]], st["measured_ms"], c["label"]))
    return out


def roofline_panel(ax, h, panel, runs, measured):
    """One kind of work's roofline: roofs, the model's points (filled) and the measured ones (hollow). Returns
    [(fraction of the roof, stage, algo, measured?)]."""
    title, key, peaks, unit, xlabel = panel
    fractions = []
    pts = [(j["algorithm"]["name"], s, s["ms_per_step"], False) for j in runs for s in j["stages"]]
    pts += [(a, s, ms, True) for a, s, ms, _ in measured]
    at = [roof_point(s, key, ms) for _, s, ms, _ in pts]
    at = [xy for xy in at if xy]
    lo = min([xy[0] for xy in at] or [0.01]) / 30
    hi = max([xy[0] for xy in at] or [100]) * 30
    xs = [lo * (hi / lo) ** (k / 100) for k in range(101)]  # the roofs over the points' range
    draw_roofs(ax, h, peaks, unit, xs)
    ax.set_xlim(lo, hi)
    sizes = {a: 70 - 7 * i for i, a in enumerate(ALGOS)}  # coinciding points show as concentric marks
    for a, s, ms, is_measured in pts:
        xy = roof_point(s, key, ms)
        if xy is None:
            continue
        c = COLORS.get(a, "k")
        ax.scatter(*xy, s=sizes.get(a, 30), marker=STAGE_MARKERS.get(s["name"], "o"), zorder=3,
                   facecolors="none" if is_measured else c, edgecolors=c, linewidths=1.2 if is_measured else 0.4)
        fractions.append((xy[1] / roof_at(h, s, peaks, xy[0]), s["name"], a, is_measured))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"attained {unit}")
    ax.set_title(f"{title}", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)  # below: no point hidden
    return fractions


def roofline_legend(fig, runs, measured):
    algos = [a for a in ALGOS if any(j["algorithm"]["name"] == a for j in runs) or any(m[0] == a for m in measured)]
    labels = {j["algorithm"]["name"]: sim_label(j) for j in runs}
    handles = [matplotlib.patches.Patch(color=COLORS[a], label=labels.get(a, algo_label(a) if a in NOT_DP else
                                                                          f"{a} (measured cases only)"))
               for a in algos]
    names = [n for n in STAGES if any(s["name"] == n for j in runs for s in j["stages"]) or
             any(m[1]["name"] == n for m in measured)]
    handles += [matplotlib.lines.Line2D([], [], ls="", marker=STAGE_MARKERS[n], color="#444444", label=n) for n in names]
    handles += [matplotlib.lines.Line2D([], [], ls="", marker="o", color="#444444", label="filled: modeled")]
    if measured:
        handles += [matplotlib.lines.Line2D([], [], ls="", marker="o", mfc="none", color="#444444",
                                            label="hollow: measured (validate)")]
    fig.legend(handles=handles, loc="lower center", ncol=8, fontsize=7, bbox_to_anchor=(0.5, 0.0))


def fig_roofline(rep):
    per_hw = simulations(rep, "sim_*_*_1.json")
    if not per_hw:
        rep.skip("7. Roofline", "no simulate data at table scale 1")
        return
    meas = measured_points(rep)
    for hw in [m for m in meas if m not in per_hw]:
        rep.skip(f"7. Roofline's measured points on {hw}", f"{hw} is not among the report's profiles (--hardware)")
    for hw, runs in per_hw.items():
        h = runs[0]["hardware"]
        measured = meas.get(hw, [])
        fig, axes = plt.subplots(1, len(ROOF_PANELS), figsize=(6 * len(ROOF_PANELS), 6.4))
        fractions = []
        for ax, panel in zip(axes, ROOF_PANELS):
            fractions += roofline_panel(ax, h, panel, runs, measured)
        roofline_legend(fig, runs, measured)
        fig.suptitle(f"Each stage on the roofline of every bound the model has ({runs[0]['workload']['name']}, "
                     f"tables {human_bytes(runs[0]['workload']['table_bytes'])}, {hw}; filled: modeled"
                     + (", hollow: measured" if measured else "") + ")", fontsize=10)
        fig.tight_layout(rect=(0, 0.07, 1, 0.95))
        name = rep.save(fig, f"fig7_roofline_{hw}")
        rep.add(f"7. Stages on the roofline ({hw})", [name], roofline_caption(runs, measured, fractions, hw))


def roofline_caption(runs, measured, fractions, hw):
    modeled = [f for f in fractions if not f[3]]
    text = ("Each stage of " + and_list([sim_label(j) for j in runs]) + " at table scale 1, placed by the work it does "
            "per byte moved against the rate it attains, under every roof of the profile: the arithmetic peaks (GEMM, "
            "vector), the RNG and sort rates, the streaming and row-random memory bandwidths, each cache's bandwidth "
            "and, with a host, the link. ")
    if modeled:
        best = max(modeled)
        text += (f"The closest to its roof (the fastest memory level's, as a share) is {best[2]}'s {best[1]} at "
                 f"{100 * best[0]:.0f} % of it; points far "
                 "below every roof are bound by what has no roof here: per-kernel launch overheads and, for "
                 "stages that do several kinds of work, the other kinds (a stage's time is its largest term plus "
                 "the unoverlapped share of the others). ")
    meas = [f for f in fractions if f[3]]
    if meas:
        fr = sorted(f[0] for f in meas)
        text += (f"Hollow points: {len(meas)} stage points of the --measured validate cases on {hw} (their own "
                 "workloads and sizes), each at its measured time and the work counts of the same case; they reach a "
                 f"median {100 * fr[len(fr) // 2]:.0f} % of the roof (best {100 * fr[-1]:.0f} %).")
    elif not measured:
        text += "No measured points: give validate reports of this profile with --measured."
    return text


# 8. Sensitivity of the lazydp/dpsgd-f gap to pooling and skew.
def fig_sensitivity(rep, pooling, skew):
    if not pooling and not by(skew, algo="lazydp"):
        rep.skip("8. Sensitivity", rep.why_missing("no pooling or skew sweep", ["dpsgd-f", "lazydp"]))
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
        sr = by(skew, hardware=hw)
        if by(sr, algo="dpsgd-f") and by(sr, algo="lazydp"):
            zs = sorted({zipf_of(r) for r in sr})
            gap = [at_zipf(sr, z, "dpsgd-f")["step_ms"] / at_zipf(sr, z, "lazydp")["step_ms"] for z in zs]
            bx.plot(zs, gap, "o-", color=COLORS["lazydp"])
            notes.append(f"{gap[0]:,.1f}x for uniform access and {gap[-1]:,.1f}x at zipf {zs[-1]:g}")
        bx.set_xlabel("zipf exponent of row access (0: uniform)")
        bx.set_ylabel("dpsgd-f step / lazydp step")
        for axis in (ax, bx):  # from zero: a change of a few percent looks like one
            lines = axis.get_lines()
            top = max((max(l.get_ydata()) for l in lines), default=1)
            axis.set_ylim(0, top * 1.15)
            axis.grid(True, alpha=0.3)
        model = (pr or sr)[0]["model"]
        fig.suptitle(f"How the lazydp/dpsgd-f gap depends on pooling and skew ({model}, "
                     f"{human_bytes((pr or sr)[0]['table_bytes'])} of tables, {hw}; "
                     f"{algo_label('lazydp', pr or sr)} and {algo_label('dpsgd-f', pr or sr)})", fontsize=10)
        fig.tight_layout(rect=(0, 0, 1, 0.93))
        name = rep.save(fig, f"fig8_sensitivity_{hw}")
        rep.add(f"8. Sensitivity to pooling and skew ({hw})", [name],
                sentence("; ".join(notes)) + ". More lookups per example means more rows for lazydp to catch up "
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
        table_md = ["| access | device cache (GB) | " + " | ".join(f"{algo_label(a, rows)}: examples/s" for a in algos) +
                    " | " + " | ".join(f"{a}'s fwd.emb hit rate (fraction)" for a in shown) + " |",
                    "|---|---|" + "---|" * (len(algos) + len(shown))]
        for i, z in enumerate(zs):
            ax, hx = axes[0][i], axes[1][i]
            zr = [r for r in rows if zipf_of(r) == z]
            curves = {}
            for a in algos:
                ar = sorted(by(zr, algo=a), key=lambda r: r["device_cache_GB"])
                cached = [r for r in ar if r["device_cache_GB"] > 0]
                ax.plot([r["device_cache_GB"] for r in cached], [r["throughput_examples_per_s"] for r in cached],
                        "o", ls=line_style(a), ms=3, color=COLORS[a], label=algo_label(a, rows))
                hits = tuple(r["fwd_emb_hit_rate"] for r in ar)
                curves.setdefault(tuple(round(h, 4) for h in hits), (hits, [], ar))[1].append(a)
                if ar[0]["device_cache_GB"] == 0:
                    ax.plot([none_x, cached[0]["device_cache_GB"]], [ar[0]["throughput_examples_per_s"],
                            cached[0]["throughput_examples_per_s"]], ":", lw=1, color=COLORS[a])
                    ax.plot([none_x], [ar[0]["throughput_examples_per_s"]], "o", ms=5, mfc="none", color=COLORS[a])
            for hits, names, ar in curves.values():  # algorithms with the same hit rates drawn once
                k = 1 if ar[0]["device_cache_GB"] == 0 else 0
                hx.plot([r["device_cache_GB"] for r in ar[k:]], hits[k:], "o-", ms=3, color=COLORS[names[0]],
                        label=", ".join(algo_label(n) if n in NOT_DP else n for n in names))
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
        axes[0][0].legend(fontsize=7, ncol=2)
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
    table_md = ["| profile | tables in | access | " + " | ".join(f"{algo_label(a, skew + skew_cache)}: examples/s"
                                                                  for a in algos) + " |",
                "|---|---|---|" + "---|" * len(algos)]
    notes, places, gains = [], [], []
    for i, hw in enumerate(hws):
        ax, rx = axes[0][i], axes[1][i]
        hr = by(skew_cache if hw in cached else skew, hardware=hw)
        cache = hr[0]["device_cache_GB"] if isinstance(hr[0].get("device_cache_GB"), float) else 0.0
        where = f"host memory, {cache:g} GB device cache" if cache > 0 else \
            f"{profile_memory(rep, hw)[1] or 'the profile’s memory'}"
        places.append(f"{hw} in {where}" + (" (they overflow its device memory)" if hw in cached else ""))
        zs = sorted({zipf_of(r) for r in hr})
        for a in algos:
            pts = [at_zipf(hr, z, a) for z in zs]
            if all(pts):
                thr = [p["throughput_examples_per_s"] for p in pts]
                ax.plot(zs, thr, "o", ls=line_style(a), ms=3, color=COLORS[a], label=algo_label(a, hr))
                rx.plot(zs, [t / thr[0] for t in thr], "o", ls=line_style(a), ms=3, color=COLORS[a])
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
        rx.set_ylim(0, max(1.2, rx.get_ylim()[1]))  # from zero: a few percent must not look steep
        rx.grid(True, alpha=0.3)
        if i == 0:
            ax.legend(fontsize=7, ncol=2)
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
            axis.plot(xs, ys, line_style(a), lw=1.2, color=COLORS[a])
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


def scale_out_table(pts, sizes, algos, devs, rows):
    md = ["| table size | GPUs (count) | " + " | ".join(f"{algo_label(a, rows)}: ms/step, h/epoch (placement)"
                                                     for a in algos) + " |", "|---|---|" + "---|" * len(algos)]
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
    algo_handles = [matplotlib.lines.Line2D([], [], color=COLORS[a], lw=1.5, ls=line_style(a), label=algo_label(a, rows))
                    for a in algos]
    place_handles = [matplotlib.lines.Line2D([], [], ls="", marker="o", color="k", label="tables in device memory"),
                     matplotlib.lines.Line2D([], [], ls="", marker="s", color="k", mfc="white",
                                             label="tables in host memory")]
    fig.legend(handles=algo_handles + place_handles, loc="upper center", ncol=5, fontsize=8,
               bbox_to_anchor=(0.5, 0.975))
    r0 = rows[0]
    target = (rep.config.get("privacy") or {}).get("target_epsilon")
    fig.suptitle(f"Scale-out on {r0['cluster']} nodes ({r0['model']}, batch {r0['batch']:,.0f}, every DP algorithm "
                 f"at epsilon {target:g}, modeled)" if target else
                 f"Scale-out on {r0['cluster']} nodes ({r0['model']}, batch {r0['batch']:,.0f}, modeled)",
                 fontsize=11, y=0.995)
    fig.subplots_adjust(top=0.93, bottom=0.1, left=0.07, right=0.98)
    name = rep.save(fig, "fig11_scale_out")
    rep.add("11. Scale-out on a cluster", [name], scale_out_caption(rep, rows, pts, sizes, algos, devs, counts),
            scale_out_table(pts, sizes, algos, devs, rows))


def scale_out_caption(rep, rows, pts, sizes, algos, devs, counts):
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
    priv = rep.config.get("privacy") or {}
    if eps is not None and steps is not None:
        fest = f"; dp-fest's one-shot histogram at --fest-sigma {priv['fest_sigma']:g}" if "fest_sigma" in priv else ""
        data = (f"{priv.get('epochs', 1):g} epoch(s) of {priv['dataset_examples']:,} examples"
                if "dataset_examples" in priv else "the run's training length")
        text += (f"Every DP algorithm's noise is set for epsilon {eps:.2f} (delta {r0['delta']:g}) over {data} "
                 f"({num(steps)} steps of {r0['batch']:,.0f} examples{fest}); time per epoch is those steps at the "
                 "modeled step time plus the once-per-run stages. ")
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


# 0. The configuration the figures were made with: privacy per algorithm, the profiles' provenance.
# The lazydp-paper preset (privrec report --preset lazydp-paper): the LazyDP paper's characterization on its
# system, every case with the framework implementation (the paper's PyTorch code) and privrec's fused kernels.
PAPER_IMPLS = ["framework", "fused"]
PAPER_BREAKDOWN_ALGOS = ["sgd", "dpsgd-b", "dpsgd-r", "dpsgd-f", "eana", "lazydp"]
PAPER_MARKERS = {"framework": ("o", "-"), "fused": ("s", ":")}


def impl_of(r):
    return r.get("implementation") or "fused"


def of_impl(rows, impl):
    return [r for r in rows if impl_of(r) == impl]


def sentence(text):
    """text with its first letter capitalized and the rest as written (str.capitalize lowercases "GB")."""
    return text[:1].upper() + text[1:]


def md_table(header, rows):
    return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                     + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def memory_of_note(note):
    """The memory a misfit's note names: '256 GB of host memory' ("... exceed X's 256 GB of host
    memory ..."), or '72 GB usable of 80 GB of device memory' ("... exceed 72 GB usable of X's 80 GB
    of device memory ...")."""
    note = str(note or "")
    m = re.search(r"([0-9.]+) GB usable of .*'s ([0-9.]+) GB of (\w+) memory", note)
    if m:
        return f"{m.group(1)} GB usable of {m.group(2)} GB of {m.group(3)} memory"
    m = re.search(r"'s ([0-9.]+) GB of (\w+) memory", note)
    return f"{m.group(1)} GB of {m.group(2)} memory" if m else "memory"


def fig_paper_breakdown(rep, rows):
    for hw in hardware_of(rows):
        hr = by(rows, hardware=hw)
        impls = [i for i in PAPER_IMPLS if of_impl(hr, i)]
        if not impls:
            rep.skip(f"P1. Step breakdown ({hw})", "no framework or fused rows")
            continue
        scales = sorted({r["table_scale"] for r in hr})
        fig, axes = plt.subplots(len(impls), len(scales), figsize=(3.4 * len(scales), 4.1 * len(impls)),
                                 squeeze=False, sharey=True)
        tops, lows, table, facts = [], [], [], []
        for ii, impl in enumerate(impls):
            for si, sc in enumerate(scales):
                ax = axes[ii][si]
                sr = by(of_impl(hr, impl), table_scale=sc)
                base = by(sr, algo="sgd")
                if not base:
                    ax.axis("off")
                    continue
                algos = [a for a in PAPER_BREAKDOWN_ALGOS if by(sr, algo=a)]
                totals = breakdown_panel(ax, sr, base[0]["step_ms"], algos)
                tops.append(max(totals))
                lows += [by(sr, algo=a)[0].get(STAGES[0] + "_ms", 0.0) / base[0]["step_ms"] for a in algos]
                ax.set_title(f"{impl}: {human_bytes(sr[0]['table_bytes'])} of tables\n(sgd {num(base[0]['step_ms'])} "
                             "ms/step)", fontsize=9)
                if si == 0:
                    ax.set_ylabel("step time / sgd's step (log)")
                table.append([impl, human_bytes(sr[0]["table_bytes"])]
                             + [num(by(sr, algo=a)[0]["step_ms"]) if by(sr, algo=a) else "" for a in PAPER_BREAKDOWN_ALGOS])
            big = by(of_impl(hr, impl), table_scale=scales[-1])
            f, g = by(big, algo="dpsgd-f"), by(big, algo="sgd")
            if f and g:
                share = f[0].get("dp.update_ms", 0.0) / f[0]["step_ms"]
                facts.append(f"with the {impl} implementation dpsgd-f takes {num(f[0]['step_ms'] / g[0]['step_ms'])}x "
                             f"sgd's step at {human_bytes(big[0]['table_bytes'])} ({num(f[0]['step_ms'] / 1e3)} s against "
                             f"{num(g[0]['step_ms'])} ms), {100 * share:.0f} % of it in dp.update")
        positive = [v for v in lows if v > 0] or [0.1]
        for ax in axes.flat:
            ax.set_ylim(max(1e-3, min(positive) / 2), max(tops or [1]) * 40)
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=6, fontsize=8, bbox_to_anchor=(0.5, -0.02))
        fig.suptitle(f"Step breakdown versus table size on the LazyDP paper's system ({hr[0]['model']} on {hw}, "
                     "modeled; rows: implementation; log scale, dotted: sgd's step)", fontsize=11)
        fig.tight_layout(rect=(0, 0.05, 1, 0.95))
        name = rep.save(fig, f"figP1_breakdown_{hw}")
        rep.add(f"P1. Step breakdown versus table size ({hw})", [name],
                "Each bar is one algorithm's modeled step, stacked by stage and divided by sgd's step at the same table "
                "size and implementation. " + (sentence("; ".join(facts)) + ". " if facts else "") + "The framework way materializes a "
                "noise tensor the size of the tables, scatters the gradient into it and adds it in a separate pass "
                "(four table-sized streams and one normal per coordinate); the fused kernel draws the noise in "
                "registers (two streams). sgd, eana and lazydp touch only the batch's rows. Step times in ms:",
                md_table(["implementation", "tables"] + PAPER_BREAKDOWN_ALGOS, table))


def paper_ratio(rows, num_algo, den_algo, **eq):
    a, b = by(rows, algo=num_algo, **eq), by(rows, algo=den_algo, **eq)
    return a[0]["step_ms"] / b[0]["step_ms"] if a and b and b[0]["step_ms"] > 0 else None


def fig_paper_lazydp(rep, rows):
    for hw in hardware_of(rows):
        hr = by(rows, hardware=hw)
        impls = [i for i in PAPER_IMPLS if of_impl(hr, i)]
        if not impls or not by(hr, algo="lazydp") or not by(hr, algo="dpsgd-f"):
            rep.skip(f"P2. LazyDP against DP-SGD(F) and EANA ({hw})",
                     rep.why_missing("no lazydp and dpsgd-f rows", ["lazydp", "dpsgd-f"]))
            continue
        models = list(dict.fromkeys(r["model"] for r in hr))
        batches = sorted({r["batch"] for r in hr})
        fig, axes = plt.subplots(1, 2, figsize=(13, 4.6))
        width = 0.8 / (len(batches) * len(impls))
        table = []
        for k, (num_algo, den_algo, ylabel) in enumerate([("dpsgd-f", "lazydp", "dpsgd-f step / lazydp step"),
                                                          ("lazydp", "eana", "lazydp step / eana step")]):
            ax = axes[k]
            for ii, impl in enumerate(impls):
                for bi, b in enumerate(batches):
                    x = [m + (ii * len(batches) + bi) * width - 0.4 + width / 2 for m in range(len(models))]
                    v = [paper_ratio(of_impl(hr, impl), num_algo, den_algo, model=m, batch=b) or 0 for m in models]
                    ax.bar(x, v, width=width * 0.95, color=plt.cm.Greens(0.45 + 0.25 * bi),
                           hatch="" if impl == "framework" else "//", edgecolor="k", linewidth=0.3,
                           label=f"{impl}, batch {b:,.0f}")
            ax.set_xticks(range(len(models)))
            ax.set_xticklabels(models)
            ax.set_ylabel(ylabel + (" (log)" if k == 0 else ""))
            if k == 0:
                ax.set_yscale("log")
            else:
                ax.axhline(1, color="k", lw=0.6, ls=":")
            ax.grid(True, axis="y", alpha=0.3)
        axes[1].legend(fontsize=7, ncol=2)
        for impl in impls:
            for m in models:
                for b in batches:
                    sel = by(of_impl(hr, impl), model=m, batch=b)
                    ms = {a: by(sel, algo=a)[0] for a in ("dpsgd-f", "eana", "lazydp") if by(sel, algo=a)}
                    if len(ms) < 3:
                        continue
                    fits = "" if all(r.get("fits") in ("true", True) for r in ms.values()) else " (does not fit)"
                    table.append([impl, m, f"{b:,.0f}", num(ms["dpsgd-f"]["step_ms"]), num(ms["eana"]["step_ms"]),
                                  num(ms["lazydp"]["step_ms"]) + fits,
                                  num(ms["dpsgd-f"]["step_ms"] / ms["lazydp"]["step_ms"]),
                                  f"{ms['lazydp']['step_ms'] / ms['eana']['step_ms']:.3g}"])
        fig.suptitle(f"LazyDP against DP-SGD(F) and EANA at {human_bytes(hr[0]['table_bytes'])}-scale tables on {hw} "
                     "(modeled; solid: framework implementation, hatched: fused)", fontsize=10)
        fig.tight_layout(rect=(0, 0, 1, 0.93))
        name = rep.save(fig, f"figP2_lazydp_{hw}")
        facts = []
        for impl in impls:
            sp = [paper_ratio(of_impl(hr, impl), "dpsgd-f", "lazydp", model=m, batch=b) for m in models for b in batches]
            ea = [paper_ratio(of_impl(hr, impl), "lazydp", "eana", model=m, batch=b) for m in models for b in batches]
            sp, ea = [v for v in sp if v], [v for v in ea if v]
            if sp and ea:
                facts.append(f"{impl}: lazydp is {num(min(sp))}-{num(max(sp))}x faster than dpsgd-f and takes "
                             f"{min(ea):.3g}-{max(ea):.3g}x eana's step")
        rep.add(f"P2. LazyDP against DP-SGD(F) and EANA ({hw})", [name],
                "Every DLRM preset at its full table size (table scale 1), batch " + ", ".join(f"{b:,.0f}" for b in batches)
                + ". " + ("; ".join(facts) + ". " if facts else "") + "lazydp pays eana's sparse update plus the catch-up noise of the next "
                "batch's rows, and none of dpsgd-f's dense pass over the tables. Step times in ms:",
                md_table(["implementation", "model", "batch", "dpsgd-f", "eana", "lazydp", "dpsgd-f / lazydp",
                          "lazydp / eana"], table))


def paper_lines(ax, rows, x_key, impls, algos, xfun=lambda v: v):
    """Step time against x_key per algorithm and implementation; a case that does not fit drawn as a red cross."""
    misfits = []
    for impl in impls:
        marker, ls = PAPER_MARKERS[impl]
        for a in algos:
            ar = sorted(by(of_impl(rows, impl), algo=a), key=lambda r: r[x_key])
            if not ar:
                continue
            xs, ys = [xfun(r[x_key]) for r in ar], [r["step_ms"] for r in ar]
            ax.plot(xs, ys, marker=marker, ls=ls, color=COLORS[a], label=f"{a} ({impl})", ms=4)
            for r, x, y in zip(ar, xs, ys):
                if r.get("fits") not in ("true", True):
                    ax.plot([x], [y], "x", color="red", ms=11, mew=2)
                    misfits.append((impl, a, r))
    ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    ax.set_ylabel("ms per step (log)")
    return misfits


def fig_paper_sensitivity(rep, pooling, sizes):
    for hw in hardware_of(pooling or sizes):
        pr, sr = by(pooling, hardware=hw), by(sizes, hardware=hw)
        impls = [i for i in PAPER_IMPLS if of_impl(pr + sr, i)]
        algos = [a for a in ALGOS if by(pr + sr, algo=a)]
        if not impls or not algos:
            rep.skip(f"P3. Pooling and table-size sensitivity ({hw})", "no framework or fused rows")
            continue
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 4.8))
        notes = []
        if pr:
            paper_lines(ax, pr, "pooling", impls, algos)
            ax.set_xlabel("lookups per example per table (pooling)")
            ps = sorted({r["pooling"] for r in pr})
            for impl in impls:
                g = [paper_ratio(of_impl(pr, impl), "dpsgd-f", "lazydp", pooling=p) for p in ps]
                if all(g):
                    notes.append(f"{impl}: dpsgd-f / lazydp is {num(g[0])}x at pooling {ps[0]:g} and {num(g[-1])}x at "
                                 f"{ps[-1]:g}")
        misfits = []
        if sr:
            misfits = paper_lines(bx, sr, "table_bytes", impls, algos, xfun=lambda b: b / 1e9)
            bx.set_xscale("log")
            bx.set_xlabel("GB of tables (red cross: tables and materialized noise do not fit)")
        handles, labels = (ax if pr else bx).get_legend_handles_labels()
        if labels:
            fig.legend(handles, labels, loc="lower center", ncol=min(8, len(labels)), fontsize=7,
                       bbox_to_anchor=(0.5, -0.04))
        model = (pr or sr)[0]["model"]
        fig.suptitle(f"Sensitivity to pooling (at {human_bytes(pr[0]['table_bytes']) if pr else '?'} of tables) and to "
                     f"table size ({model} on {hw}, modeled; circles: framework, squares: fused)", fontsize=10)
        fig.tight_layout(rect=(0, 0.07, 1, 0.93))
        name = rep.save(fig, f"figP3_sensitivity_{hw}")
        if misfits:
            where = memory_of_note(misfits[0][2].get("note"))
            gone = sorted({(r["table_bytes"], impl, a) for impl, a, r in misfits})
            notes.append(f"does not fit in {where}: " + ", ".join(
                f"{a} ({impl}) at {human_bytes(b)}" for b, impl, a in gone))
        else:
            notes.append("every case fits")
        table = [[impl_of(r), r["algo"], human_bytes(r["table_bytes"]), num(r["step_ms"]),
                  "yes" if r.get("fits") in ("true", True) else "no"]
                 for r in sorted(sr, key=lambda r: (impl_of(r), r["algo"], r["table_bytes"]))]
        rep.add(f"P3. Pooling and table-size sensitivity ({hw})", [name],
                sentence("; ".join(notes)) + ". The framework implementation keeps dpsgd's dense noise beside the "
                "tables, so its footprint is twice theirs; the modeled time of a case that does not fit assumes memory "
                "that large. Table-size cases:",
                md_table(["implementation", "algorithm", "tables", "ms/step", "fits"], table))


def paper_main(rep):
    breakdown = read_csv(os.path.join(rep.data, "paper_breakdown.csv"))
    caption, tables = config_section(rep, breakdown)
    rep.add("Configuration", [], caption, tables)
    if breakdown:
        fig_paper_breakdown(rep, breakdown)
    else:
        rep.skip("P1. Step breakdown", "no paper_breakdown.csv")
    lazy = read_csv(os.path.join(rep.data, "paper_lazydp.csv"))
    if lazy:
        fig_paper_lazydp(rep, lazy)
    else:
        rep.skip("P2. LazyDP against DP-SGD(F) and EANA", rep.why_missing("no paper_lazydp.csv", ["lazydp", "dpsgd-f"]))
    pooling = read_csv(os.path.join(rep.data, "paper_pooling.csv"))
    sizes = read_csv(os.path.join(rep.data, "paper_table_size.csv"))
    if pooling or sizes:
        fig_paper_sensitivity(rep, pooling, sizes)
    else:
        rep.skip("P3. Sensitivity", "no paper_pooling.csv or paper_table_size.csv")


def provenance_text(prov):
    """Where a profile's figures come from, in one line: the source, its reference or calibration, and the rates
    its derivation calls estimates."""
    prov = prov or {}
    src = prov.get("source", "unknown")
    if src == "measured":
        where = (f"calibrated with `{prov.get('command', 'privrec calibrate')}` on {prov.get('date', '?')[:10]}"
                 f" (median error over the calibration cases {prov.get('calibration_median_abs_error_pct', 0):.1f} %)")
    else:
        where = prov.get("reference", "")
    est = sorted(k for k, v in (prov.get("derivation") or {}).items() if "estimate" in str(v).lower())
    return src, where, ", ".join(est) if est else "none"


def algorithm_rows(rep, sizes):
    """One configuration-table row per algorithm: its DP guarantee, epsilon reached, delta, noise multiplier, clip
    norm and what else its privacy involves, at the workload's batch (the table-size sweep)."""
    priv, clip = rep.config.get("privacy") or {}, rep.config.get("clip") or {}
    batch = rep.config.get("batch")
    rows = [r for r in sizes if batch is None or r.get("batch") == batch] or sizes
    out = []
    for a in ALGOS:
        if a in rep.left_out:
            out.append(f"| {a} | left out | | | | | {rep.left_out[a]} |")
            continue
        ar = by(rows, algo=a)
        if not ar:
            continue
        r = ar[0]
        sigma = r.get("noise_multiplier") if isinstance(r.get("noise_multiplier"), float) else None
        note = {"sgd": "no noise, no clipping: no privacy",
                "eana": "no DP guarantee for its embedding tables (which rows change reveals the batch's values)",
                "lazydp": "releases dpsgd-f's model: the same mechanism, the same epsilon"}.get(a, "")
        if a == "adafest" and sigma:
            f = priv.get("adafest_selection_budget", 0.5)
            note = (f"sigma is the effective one of selection sigma1/C1 = {sigma / math.sqrt(f):.4g} (C1 = "
                    f"{clip.get('adafest_C1', 1):g}) and gradient sigma2 = {sigma / math.sqrt(1 - f):.4g} "
                    f"(selection budget {f:g})")
        if a == "dp-fest" and "fest_sigma" in priv:
            note = (f"plus the one-shot histogram at --fest-sigma {priv['fest_sigma']:g} (its epsilon alone "
                    f"{priv.get('fest_histogram_epsilon', 0):.3g}; {priv.get('fest_sigma_rule', '')})")
        eps = f"{r['epsilon']:.4f}" if isinstance(r.get("epsilon"), float) else "none"
        dp = "no" if a in NOT_DP else "yes"
        c = "none" if a == "sgd" else f"{clip.get('C', 0.4):g}"
        delta = f"{r['delta']:g}" if isinstance(r.get("delta"), float) and dp == "yes" else ""
        out.append(f"| {algo_label(a, rows)} | {dp} | {eps} | {delta} | {f'{sigma:.4f}' if sigma else 'none'} | {c} "
                   f"| {note} |")
    return out, (rows[0]["batch"] if rows else batch)


def config_section(rep, sizes):
    cfg, priv = rep.config, rep.config.get("privacy") or {}
    algos, batch = algorithm_rows(rep, sizes)
    table = ["| algorithm | DP guarantee | epsilon reached | delta | noise multiplier sigma (noise stddev / C) | "
             "clip norm C (L2) | notes |", "|---|---|---|---|---|---|---|"] + algos
    hw = ["| profile | description | source | where its figures come from | rates that are estimates |",
          "|---|---|---|---|---|"]
    for h in cfg.get("hardware", []):
        src, where, est = provenance_text(h.get("provenance"))
        hw.append(f"| {h['name']} | {h.get('description', '')} | {src} | {where} | {est} |")
    if cfg.get("cluster"):
        c = cfg["cluster"]
        src, where, est = provenance_text(c.get("provenance"))
        hw.append(f"| {c['name']} (cluster, figure 11) | {c.get('description', '')} | {src} | {where} | {est} |")
    if not cfg:
        return ("No data/config.json (the data was not written by privrec report): the privacy below is what the "
                "data files say.", ["\n".join(table)])
    paper = cfg.get("preset") == "lazydp-paper"
    batches = ("; figure P2 every DLRM preset at batches 1024, 2048 and 4096" if paper else
               f"the heatmap also at batches {', '.join(str(b) for b in cfg.get('batch_axis', []))}"
               + (f"; the scale-out figure at {cfg['cluster']['batch']:,}" if cfg.get("cluster") else ""))
    text = (f"Made with `{cfg.get('command', 'privrec report')}` by {cfg.get('privrec', 'privrec')} on "
            f"{(cfg.get('machine') or {}).get('date_utc', '?')}. "
            + ("The LazyDP paper's characterization on its system (preset lazydp-paper): every case with the framework "
               "implementation (PyTorch operators as the paper's code calls them) and with privrec's fused kernels. "
               if paper else "")
            + f"Workload {cfg.get('model')} at batch {batch:,.0f} ({batches.lstrip('; ')}). "
            f"Privacy: every DP algorithm's noise is derived from the target epsilon {priv.get('target_epsilon', 0):g} "
            f"at delta {priv.get('delta', 0):g} ({priv.get('delta_rule', '')}), for {priv.get('epochs', 1):g} epoch(s) "
            f"of {priv.get('dataset_examples', 0):,} examples ({priv.get('dataset_source', '')}; the sampling rate is "
            f"batch / examples, the steps epochs / rate), by the accountant: {priv.get('accountant', '')}. The epsilon "
            "shown everywhere is the one the data files report, not the target. sgd and eana have no DP guarantee "
            "and are kept as references. The clip norm C and the learning rate are the commands' defaults.")
    if rep.left_out:
        text += " Left out of every figure: " + "; ".join(f"{a} ({w})" for a, w in rep.left_out.items()) + "."
    return text, ["\n".join(table), "\n".join(hw)]


def table_html(table):
    lines = [l.strip("|").split("|") for l in table.splitlines()]
    return "<table>" + "".join(
        "<tr>" + "".join(f"<{'th' if i == 0 else 'td'}>{html.escape(c.strip())}</{'th' if i == 0 else 'td'}>"
                         for c in cells) + "</tr>"
        for i, cells in enumerate(lines) if i != 1) + "</table>"


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
        for t in ([table] if isinstance(table, str) else table or []):
            html_parts.append(table_html(t))
            md += [t, ""]
    if rep.skipped:
        html_parts.append("<h2>Left out</h2><ul>" + "".join(
            f"<li>{html.escape(t)}: {html.escape(w)}</li>" for t, w in rep.skipped) + "</ul>")
        md += ["## Left out", ""] + [f"- {t}: {w}" for t, w in rep.skipped] + [""]
    write_text(os.path.join(rep.out, "index.html"), "\n".join(html_parts) + "\n")
    write_text(os.path.join(rep.out, "report.md"), "\n".join(md) + "\n")


def default_main(rep):
    """The default report's figures, each from the data that exists."""
    sizes = read_csv(os.path.join(rep.data, "sizes.csv"))
    caption, tables = config_section(rep, sizes)
    rep.add("Configuration", [], caption, tables)
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


def main():
    args = [a for a in sys.argv[1:] if a != "--png-only"]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    rep = Report(args[0], svg="--png-only" not in sys.argv)
    if not os.path.isdir(rep.data):
        print(f"render_report: {rep.data} is missing (run privrec report)", file=sys.stderr)
        return 2
    if rep.config.get("preset") == "lazydp-paper":
        paper_main(rep)
    else:
        default_main(rep)
    write(rep)
    print(f"render_report: {sum(1 for sec in rep.sections if sec[1])} figures, {len(rep.skipped)} left out")
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
