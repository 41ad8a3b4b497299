#!/usr/bin/env bash
# The framework-way PyTorch peer (tools/peers/torch_cpu_peer.py, issue 16) on the tiny workload: for
# sgd, dpsgd-f, eana and lazydp it runs on a `privrec train --json` file and writes train-shaped JSON
# with exactly the stages the framework way has, finite losses; bad input exits 2 naming the key;
# peer_bench.py --dry-run prints its commands; `privrec compare --implementation framework` runs it
# and pairs every stage it timed with the framework model's; `privrec calibrate --implementation
# framework` writes a profile with the peer's costs that simulate takes, and `privrec validate
# --implementation framework` takes the median of the peer's repeats. Skipped (77) where python3 has no torch.
set -euo pipefail
src=$1 bin=$2 size=${3:-full}  # short: calibrate and validate on one case (sanitizer builds)
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
command -v "$py" >/dev/null || { echo "skipped: no python3"; exit 77; }
peer=$src/tools/peers/torch_cpu_peer.py
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for algo in sgd dpsgd-f eana lazydp; do
  "$bin/privrec" train --model tiny --algo "$algo" --steps 3 --warmup 1 -q --json "$tmp/$algo.json" >/dev/null
done
# Bad input, before torch is needed: a missing file, and an algorithm the peer does not run.
set +e
"$py" "$peer" --like "$tmp/none.json" --dry-run 2>"$tmp/err"; rc=$?
set -e
[ "$rc" -eq 2 ] && grep -q "none.json" "$tmp/err" || { echo "missing --like: rc $rc"; cat "$tmp/err"; exit 1; }
"$bin/privrec" train --model tiny --algo adafest --steps 2 --warmup 1 -q --json "$tmp/adafest.json" >/dev/null
set +e
"$py" "$peer" --like "$tmp/adafest.json" --dry-run 2>"$tmp/err"; rc=$?
set -e
[ "$rc" -eq 2 ] && grep -q "algorithm.name 'adafest'" "$tmp/err" || { echo "adafest: rc $rc"; cat "$tmp/err"; exit 1; }
"$py" "$src/tools/peers/peer_bench.py" --dry-run --case tiny:1 --algo sgd | grep -q "torch_cpu_peer.py --like"

if ! "$py" -c "import torch" 2>/dev/null; then
  echo "skipped: $py has no torch (tools/setup.sh installs python3-torch)"
  exit 77
fi
for algo in sgd dpsgd-f eana lazydp; do
  "$py" "$peer" --like "$tmp/$algo.json" --json "$tmp/peer_$algo.json" >/dev/null 2>&1
  "$py" - "$tmp/peer_$algo.json" "$algo" <<'PY'
import json, math, sys
d = json.load(open(sys.argv[1]))
algo = sys.argv[2]
dp = ["fwd.emb", "fwd.mlp", "bwd.mlp", "bwd.emb", "dp.norm", "dp.clip", "dp.update", "update.mlp"]
want = {"sgd": ["fwd.emb", "fwd.mlp", "bwd.mlp", "bwd.emb", "update.mlp", "update.sparse"],
        "lazydp": [s for s in dp if s != "dp.update"] + ["lazydp.catchup"]}.get(algo, dp)
got = [s["name"] for s in d["stages"]]
assert got == want, (algo, got)
assert all(s["ms_min"] <= s["ms_per_step"] <= s["ms_max"] for s in d["stages"]), d["stages"]
assert all(math.isfinite(l) for l in d["losses"]) and len(d["losses"]) == 3, d["losses"]
assert d["algorithm"]["name"] == algo and d["implementation"] == "framework"
# what calibrate fits the framework profile's costs from: positive, finite
r = d["framework_rates"]
assert sorted(r) == ["gemm_GFLOPps", "rng_normals_per_s"], r
assert all(math.isfinite(v) and v > 0 for v in r.values()) and math.isfinite(d["dispatch_us"]) and d["dispatch_us"] > 0, d
PY
done
# The comparison with the framework model: every stage the peer timed has a modeled time, and the
# JSON names the implementation; a --trace is refused (the peer draws its own ids), exit 2.
for algo in sgd lazydp; do
  "$bin/privrec" compare --implementation framework --python "$py" --model tiny --algo "$algo" --steps 3 --warmup 1 -q \
    --json "$tmp/cmp_$algo.json" >/dev/null
  "$py" - "$tmp/cmp_$algo.json" "$tmp/peer_$algo.json" "$src" <<'PY'
import json, os, sys
c, p = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert [s["name"] for s in c["stages"]] == [s["name"] for s in p["stages"]], (c["stages"], p["stages"])
assert all(s["modeled_ms"] > 0 for s in c["stages"]), c["stages"]
# framework, or its variant fitted on the hardware profile the model ran on where one ships
# (framework-on-cpu-xeon-2c on the Xeon VM)
variant = "framework-on-" + c["hardware"]["name"]
ships = os.path.exists(os.path.join(sys.argv[3], "configs", "implementations", variant + ".json"))
assert c["implementation"]["name"] == (variant if ships else "framework"), (c["implementation"]["name"], variant)
assert c["implementation"]["kernels"] == "framework"
assert c["end_to_end"]["modeled_ms"] > 0 and c["end_to_end"]["measured_ms"] > 0
# a fastest and a slowest step for every stage and end to end, with each median between them
for o in c["stages"] + [c["end_to_end"]]:
    assert o["measured_min_ms"] <= o["measured_ms"] <= o["measured_max_ms"], o
PY
done
# A framework calibration on two tiny cases writes a profile with the peer's dispatch cost and its
# rates as fractions of privrec's, which simulate then takes as an implementation.
if [ "$size" = short ]; then
  echo '{"cases": [{"model": "tiny", "table_scale": 1, "algo": "dpsgd-f", "batch": 64, "steps": 3, "warmup": 1}]}' \
    >"$tmp/cases.json"
else
  cat >"$tmp/cases.json" <<'JSON'
{"cases": [{"model": "tiny", "table_scale": 1, "algo": "sgd", "batch": 64, "steps": 3, "warmup": 1},
           {"model": "tiny", "table_scale": 1, "algo": "dpsgd-f", "batch": 64, "steps": 3, "warmup": 1}]}
JSON
fi
ncases=$(grep -c '"model"' "$tmp/cases.json")
"$bin/privrec" calibrate --implementation framework --python "$py" --cases "$tmp/cases.json" --repeats 1 \
  --out "$tmp/fw.json" --name fw-test -q >/dev/null 2>"$tmp/cal_err"
"$py" - "$tmp/fw.json" "$tmp/cal_err" "$tmp/cases.json" "$tmp/peer_sgd.json" "$tmp/peer_dpsgd-f.json" <<'PY'
import json, re, sys
p = json.load(open(sys.argv[1]))
assert p["name"] == "fw-test" and p["kernels"] == "framework" and p["dispatch_us"] > 0, p
f = p["cpu_rate_fractions"]
assert sorted(f) == ["gemm_GFLOPps", "rng_normals_per_s"] and all(0 < v <= 100 for v in f.values()), f
# Every stage the cases' peer runs timed is fitted (a key of its own, or per roofline bound) or
# named by calibrate's warning: a stage measured at or below its modeled overheads in every case
# (under the sanitizers, or on a loaded VM where the peer's dispatch cost comes out high) has
# nothing to fit, and calibrate says so rather than leaving it out silently.
algos = [c["algo"] for c in json.load(open(sys.argv[3]))["cases"]]
observed = {s["name"] for a, f in (("sgd", sys.argv[4]), ("dpsgd-f", sys.argv[5])) if a in algos
            for s in json.load(open(f))["stages"]}
fitted = {k.split(":")[0] for k in p.get("stage_efficiency", {})}
err = open(sys.argv[2]).read()
m = re.search(r"warning: (.*?) ha(?:s|ve) no fit", err)
warned = set(m.group(1).split(", ")) if m else set()
assert observed <= fitted | warned, (sorted(observed - fitted - warned), err)
assert not (fitted & warned), (fitted, warned)
PY
"$bin/privrec" simulate --model tiny --algo dpsgd-f --hardware cpu-xeon-2c --implementation "$tmp/fw.json" -q >/dev/null
# validate --implementation framework: every case run twice by the peer, the medians against the model.
"$bin/privrec" validate --implementation framework --python "$py" --cases "$tmp/cases.json" --repeats 2 -q \
  --json "$tmp/val.json" >/dev/null
"$py" - "$tmp/val.json" "$ncases" <<'PY'
import json, math, sys
v = json.load(open(sys.argv[1]))
assert v["implementation"]["kernels"] == "framework" and v["backend"] == "pytorch-cpu", v.get("implementation")
assert [len(c["repeats"]) for c in v["cases"]] == [2] * int(sys.argv[2]), [len(c["repeats"]) for c in v["cases"]]
for c in v["cases"]:
    ms = sorted(r["end_to_end"]["measured_ms"] for r in c["repeats"])
    assert abs(c["end_to_end"]["measured_ms"] - (ms[0] + ms[1]) / 2) <= 1e-9 * ms[1], c["end_to_end"]
    # every stage the peer timed is modeled, by the framework implementation at both rates: its
    # fixed costs alone put the framework model far above the fused one on the tiny model (>= 3x)
    for model in [c] + [c["rates_now"]] + c["repeats"]:
        assert all(s["modeled_ms"] > 0 for s in model["stages"]), model["stages"]
    # the same model at the rates probed before the case: no bound on the ratio, as a probe that
    # shares the two cores with another test (ctest -j2) can come out several times slow
    assert math.isfinite(c["rates_now"]["end_to_end"]["modeled_ms"]) and c["rates_now"]["end_to_end"]["modeled_ms"] > 0, c["rates_now"]["end_to_end"]
PY
"$bin/privrec" simulate --model tiny --algo dpsgd-f --batch 64 --hardware cpu-xeon-2c -q --json "$tmp/fused.json" >/dev/null
"$py" - "$tmp/val.json" "$tmp/fused.json" <<'PY'
import json, sys
v, fused = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
(dp,) = [c for c in v["cases"] if c["label"] == "tiny x1 dpsgd-f batch 64"]
assert dp["end_to_end"]["modeled_ms"] > 3 * fused["step_ms"], (dp["end_to_end"], fused["step_ms"])
PY
"$bin/privrec" trace gen --model tiny --batches 4 --out "$tmp/t.trace" >/dev/null
set +e
"$bin/privrec" compare --implementation framework --python "$py" --model tiny --trace "$tmp/t.trace" -q 2>"$tmp/err"; rc=$?
set -e
[ "$rc" -eq 2 ] && grep -q "draws its own uniform ids" "$tmp/err" || { echo "compare --trace: rc $rc"; cat "$tmp/err"; exit 1; }
echo "torch_cpu_peer: sgd, dpsgd-f, eana, lazydp ok; compare, calibrate and validate --implementation framework ok"
