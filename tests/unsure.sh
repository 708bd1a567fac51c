#!/usr/bin/env bash
# unsure.sh — calibration and "not sure" through the CLI (docs/calibration.md):
# `train` fits a temperature on the validation split and says by how much the
# calibration error fell; `info` shows it and `test --json` reports it with
# the ECE and the unsure answers; `predict` says "not sure: or D?" exactly
# for the answers below 80%, in text and JSON alike, naming the runner-up;
# `calibrate` fits an existing model without changing one answer.
set -u
DN=${DIGITNET:-build/digitnet}
[ -x "$DN" ] || { echo "skip: $DN is not built"; exit 77; }
[ -f data/mnist/t10k-images-idx3-ubyte ] || { echo "skip: no MNIST in data/mnist (make data)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. tests/common.bash

# a deliberately weak model (one epoch on 6,000 images): many answers unsure
expect 0 "train calibrates on the validation split" \
    "^calibrated: temperature [0-9.]+, validation ECE [0-9.]+% -> [0-9.]+%" -- \
    "$DN" train --arch 784-16-10 --epochs 1 --subset 6000 --val 1000 --lr 0.05 --seed 3 -j 1 \
    -o "$tmp/m.dnm"
t=$(sed -n 's/^calibrated: temperature \([0-9.]*\),.*/\1/p' "$tmp/out")
expect 0 "info shows the temperature" "^temperature +[0-9.]+" -- "$DN" info "$tmp/m.dnm"
expect 0 "test --json" "" -- "$DN" test "$tmp/m.dnm" --json
check_json() { python3 -c "$1" "$tmp/out" "$t" && pass "$2" || fail "$2: $(head -c 600 "$tmp/out")"; }
check_json '
import json, sys
j = json.load(open(sys.argv[1]))
assert abs(j["temperature"] - float(sys.argv[2])) < 0.0006, j["temperature"]
assert 0 <= j["ece"] < 0.1 and 0 < j["unsure"] < j["count"], j
assert j["unsure_correct"] <= j["unsure"]
sure = j["count"] - j["unsure"]
assert abs(j["sure_accuracy"] - (j["correct"] - j["unsure_correct"]) / sure) < 1e-6
assert j["sure_accuracy"] > j["accuracy"], "the sure answers are the better ones"
' "test --json: the temperature, the ECE and the unsure answers add up"
expect 0 "test in text names the calibration" "^calibration error [0-9.]+% \(temperature" -- \
    "$DN" test "$tmp/m.dnm"
expect 0 "test says how many answers were unsure" "^not sure +[0-9]+ \([0-9.]+%\)" -- \
    "$DN" test "$tmp/m.dnm"
"$DN" test "$tmp/m.dnm" --json --temperature 1 >"$tmp/t1" 2>&1
"$DN" test "$tmp/m.dnm" --json >"$tmp/tT" 2>&1
python3 -c '
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert a["temperature"] == 1 and a["correct"] == b["correct"], (a, b)
assert b["ece"] < a["ece"] and b["loss"] < a["loss"], (a["ece"], b["ece"], a["loss"], b["loss"])
' "$tmp/t1" "$tmp/tT" && pass "--temperature 1 undoes the calibration: same answers, higher ECE and loss" ||
    fail "--temperature 1: $(head -c 300 "$tmp/t1")"
expect 2 "--temperature out of range is a usage error" "not a number in 0.05..20" -- \
    "$DN" test "$tmp/m.dnm" --temperature 25
# without a validation split there is nothing to calibrate on
expect 0 "--val 0 trains without calibrating" "" -- \
    "$DN" train --arch 784-16-10 --epochs 1 --subset 3000 --val 0 --seed 3 -j 1 -o "$tmp/u.dnm"
grep -q '^calibrated' "$tmp/out" && fail "--val 0 calibrated: $(grep calibrated "$tmp/out")"
"$DN" test "$tmp/u.dnm" >"$tmp/out" 2>&1
grep -q "temperature 1.000, not calibrated" "$tmp/out" && pass "an uncalibrated model says so" ||
    fail "uncalibrated: $(head -3 "$tmp/out")"

# fine-tuning a calibrated model starts from T = 1 (its temperature fitted
# other weights); with no validation split it stays there
expect 0 "fine-tune a calibrated model without a validation split" "" -- \
    "$DN" train --finetune "$tmp/m.dnm" --data data/mnist --subset 3000 --val 0 --epochs 1 -j 1 \
    --no-test -o "$tmp/f.dnm"
"$DN" info "$tmp/f.dnm" --json | python3 -c '
import json, sys
t = json.load(sys.stdin)["meta"].get("temperature", "1")
assert float(t) == 1.0, t' && pass "the fine-tuned model does not inherit the temperature" ||
    fail "fine-tuned temperature: $("$DN" info "$tmp/f.dnm" | grep temperature)"

# calibrate: an existing model, the answers unchanged
expect 0 "calibrate fits an uncalibrated model" "^calibrated: temperature" -- \
    "$DN" calibrate "$tmp/u.dnm" -o "$tmp/uc.dnm" --val 2000
kept=$(sed -n 's/^calibrated: temperature \([0-9.]*\),.*/\1/p; s/.*; kept \([0-9.]*\)$/\1/p' "$tmp/out")
"$DN" test "$tmp/u.dnm" --json >"$tmp/a.json" 2>&1
"$DN" test "$tmp/uc.dnm" --json >"$tmp/b.json" 2>&1
python3 -c '
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert a["correct"] == b["correct"] and a["confusion"] == b["confusion"], "answers changed"
assert abs(b["temperature"] - float(sys.argv[3])) < 0.0006, (b["temperature"], sys.argv[3])
' "$tmp/a.json" "$tmp/b.json" "${kept:-0}" && pass "the calibrated copy gives the same answers at temperature $kept" ||
    fail "calibrate: $(head -c 300 "$tmp/b.json") kept '$kept'"
expect 2 "calibrate needs -o" "-o OUT is required" -- "$DN" calibrate "$tmp/u.dnm"
expect 2 "calibrate never writes over its model" "" -- "$DN" calibrate "$tmp/u.dnm" -o "$tmp/u.dnm"
expect 1 "calibrate: --val larger than the data" "has only 60000 images" -- \
    "$DN" calibrate "$tmp/u.dnm" -o "$tmp/x.dnm" --val 70000
[ ! -e "$tmp/x.dnm" ] && pass "and writes nothing" || fail "calibrate wrote $tmp/x.dnm after an error"

# predict: text and JSON agree on which answers are unsure and who is next
imgs=data/mnist/t10k-images-idx3-ubyte
"$DN" predict "$tmp/m.dnm" "$imgs" >"$tmp/text" 2>&1
"$DN" predict "$tmp/m.dnm" "$imgs" --json >"$tmp/json" 2>&1
python3 -c '
import json, re, sys
text = open(sys.argv[1]).read().splitlines()
js = [json.loads(l) for l in open(sys.argv[2])]
assert len(text) == len(js) == 10000, (len(text), len(js))
unsure = 0
for t, j in zip(text, js):
    assert j["unsure"] is (j["probability"] < 0.8), j
    m = re.search(r"not sure: or (\d) \(", t)
    assert bool(m) == j["unsure"], (t, j)
    if m:
        unsure += 1
        assert int(m.group(1)) == j["runner_up"]["label"], (t, j)
    p, r = j["probabilities"], j["runner_up"]["label"]
    assert r != j["label"] and p[r] == max(v for k, v in enumerate(p) if k != j["label"]), j
assert 0 < unsure < len(js), unsure
print(unsure)
' "$tmp/text" "$tmp/json" >"$tmp/n" 2>&1 &&
    pass "predict: text and JSON mark the same $(cat "$tmp/n") answers unsure, with the runner-up" ||
    fail "predict unsure: $(tail -c 600 "$tmp/n")"
finish unsure
