#!/usr/bin/env bash
# cli.sh — end-to-end tests of the digitnet command: a short MLP training
# that must reach >= 95% on the MNIST test set, test/info output (text and
# JSON), model round trip, and the error paths with their exit codes
# (0 ok, 1 runtime error, 2 usage error), each with a message.
set -u
DN=${DIGITNET:-build/digitnet}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
pass() { echo "ok   $1"; }
fail() { echo "FAIL $1"; fails=$((fails + 1)); }
# expect CODE DESCRIPTION PATTERN -- COMMAND...: exit code and a stderr/stdout match
expect() {
    local code=$1 desc=$2 pat=$3; shift 4
    local out rc
    out=$("$@" 2>&1); rc=$?
    if [ "$rc" -ne "$code" ]; then fail "$desc: exit $rc, expected $code: $out"; return; fi
    if [ -n "$pat" ] && ! grep -qiE -- "$pat" <<<"$out"; then fail "$desc: output lacks /$pat/: $out"; return; fi
    pass "$desc"
}

# --- a short training run must clear 95% on the 10,000 test images
out=$($DN train --arch 784-128-64-10 --epochs 3 --seed 1 -o "$tmp/m.dnm" 2>&1)
acc=$(sed -n 's/^test accuracy: \([0-9.]*\)%.*/\1/p' <<<"$out")
if [ -n "$acc" ] && awk -v a="$acc" 'BEGIN{exit !(a >= 95.0)}'; then pass "short MLP training reaches $acc% >= 95%"
else fail "short MLP training: '$acc' ($out)"; fi

# --- test, --json, info
expect 0 "test prints accuracy and confusion" "confusion matrix" -- $DN test "$tmp/m.dnm"
json=$($DN test "$tmp/m.dnm" --json)
if python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert 0.95<=d["accuracy"]<=1 and d["count"]==10000 and len(d["confusion"])==10 and sum(map(sum,d["confusion"]))==10000' "$json"
then pass "test --json has accuracy, count and a 10x10 confusion"; else fail "test --json: $json"; fi
expect 0 "info shows architecture" "fc128-relu-fc64-relu-fc10" -- $DN info "$tmp/m.dnm"
expect 0 "info shows parameter count" "109386" -- $DN info "$tmp/m.dnm"
expect 0 "info shows the per-epoch history" "^ +3 +[0-9.]+ +[0-9.]+% +[0-9.]+%" -- $DN info "$tmp/m.dnm"

# --- determinism: same command and seed, one thread -> identical files
$DN train --arch 784-32-10 --epochs 1 --seed 7 -j 1 --no-test -q -o "$tmp/a.dnm" >/dev/null 2>&1
$DN train --arch 784-32-10 --epochs 1 --seed 7 -j 1 --no-test -q -o "$tmp/b.dnm" >/dev/null 2>&1
if cmp -s "$tmp/a.dnm" "$tmp/b.dnm"; then pass "single-thread training is bit-reproducible"
else fail "same seed gave different models"; fi

# --- several models: an ensemble, the mean of their probabilities
json=$($DN test "$tmp/m.dnm" "$tmp/a.dnm" --json)
if python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["model"][1].endswith("a.dnm") and len(d["temperatures"])==2 and d["temperature"] is None and d["count"]==10000 and 0.9<=d["accuracy"]<=1' "$json"
then pass "test with two models reports the ensemble"; else fail "test with two models: $json"; fi
expect 0 "test lists an ensemble's models" "models +2, their probabilities averaged" -- $DN test "$tmp/m.dnm" "$tmp/a.dnm"
expect 2 "test with too many models" "at most 8 models" -- $DN test "$tmp/m.dnm" "$tmp/m.dnm" "$tmp/m.dnm" \
    "$tmp/m.dnm" "$tmp/m.dnm" "$tmp/m.dnm" "$tmp/m.dnm" "$tmp/m.dnm" "$tmp/m.dnm"
expect 1 "test with one model missing" "missing.dnm: cannot open" -- $DN test "$tmp/m.dnm" "$tmp/missing.dnm"

# --- config file, command line overrides it
printf 'arch = 784-16-10\nepochs = 1\n# comment\nbatch 128\n' >"$tmp/cfg"
expect 0 "train --config" "saved" -- $DN train --config "$tmp/cfg" --no-test -o "$tmp/c.dnm"
expect 0 "config arch recorded" "fc16-relu-fc10" -- $DN info "$tmp/c.dnm"
printf 'arch = 784-16-10\nbogus = 3\n' >"$tmp/badcfg"
expect 2 "unknown config option" "unknown option 'bogus'" -- $DN train --config "$tmp/badcfg" -o "$tmp/x.dnm"

# --- usage errors (exit 2)
expect 2 "no command" "usage" -- $DN
expect 2 "unknown command" "unknown command" -- $DN frobnicate
expect 2 "train without -o" "missing -o" -- $DN train
expect 2 "bad epochs" "--epochs" -- $DN train --epochs zero -o "$tmp/x.dnm"
expect 2 "bad learning rate" "--lr" -- $DN train --lr -1 -o "$tmp/x.dnm"
expect 2 "bad architecture" "unknown or malformed layer" -- $DN train --arch conv3x3-fc10 -o "$tmp/x.dnm"
expect 2 "wrong output size" "must end with 10" -- $DN train --arch 784-128 -o "$tmp/x.dnm"
expect 2 "wrong input size" "input size must be 784" -- $DN train --arch 100-10 -o "$tmp/x.dnm"
expect 2 "unknown optimizer" "unknown 'rmsprop'" -- $DN train --optimizer rmsprop -o "$tmp/x.dnm"
expect 2 "unknown activation" "unknown activation" -- $DN train --act swish -o "$tmp/x.dnm"
expect 2 "test unknown option" "unknown option .--frob." -- $DN test --frob
for c in train test info; do expect 0 "$c --help" "usage: digitnet $c" -- $DN $c --help; done

# --- runtime errors (exit 1)
expect 1 "missing data directory" "nowhere: cannot open" -- $DN train --data "$tmp/nowhere" -o "$tmp/x.dnm"
expect 1 "missing model" "cannot open" -- $DN test "$tmp/missing.dnm"
printf 'not a model' >"$tmp/junk.dnm"
expect 1 "junk model" "bad magic" -- $DN info "$tmp/junk.dnm"
head -c 5000 "$tmp/m.dnm" >"$tmp/trunc.dnm"
expect 1 "truncated model" "checksum|truncated" -- $DN info "$tmp/trunc.dnm"
cp "$tmp/m.dnm" "$tmp/flip.dnm"
printf '\x55' | dd of="$tmp/flip.dnm" bs=1 seek=3000 conv=notrunc status=none
expect 1 "corrupted model" "checksum" -- $DN test "$tmp/flip.dnm"
expect 1 "unwritable output" "m.dnm: cannot write" -- $DN train --arch 784-16-10 --epochs 1 --no-test -q -o "$tmp/no/such/dir/m.dnm"
expect 1 "divergence is detected" "diverged" -- $DN train --arch 784-64-10 --lr 1000 --epochs 2 -o "$tmp/div.dnm"
[ ! -e "$tmp/div.dnm" ] && pass "diverged run writes no model" || fail "diverged run wrote a model"
ls "$tmp"/*.tmp >/dev/null 2>&1 && fail "temporary files left behind" || pass "no temporary files left"

# --- fine-tuning on a small collection of "user" digits mixed with MNIST
mkdir -p "$tmp/coll"
python3 - "$tmp/coll" <<'PY'
import struct, sys
d = sys.argv[1]
im = open('data/mnist/t10k-images-idx3-ubyte', 'rb').read()
lb = open('data/mnist/t10k-labels-idx1-ubyte', 'rb').read()
n = 40
open(d + '/train-images-idx3-ubyte', 'wb').write(struct.pack('>IIII', 0x803, n, 28, 28) + im[16:16 + n * 784])
open(d + '/train-labels-idx1-ubyte', 'wb').write(struct.pack('>II', 0x801, n) + lb[8:8 + n])
PY
out=$($DN train --finetune "$tmp/m.dnm" --data "$tmp/coll" --epochs 1 -o "$tmp/ft.dnm" 2>&1)
acc=$(sed -n 's/^test accuracy: \([0-9.]*\)%.*/\1/p' <<<"$out")
if grep -q "fine-tuning on 40 digits of " <<<"$out" && [ -n "$acc" ] && awk -v a="$acc" 'BEGIN{exit !(a >= 95.0)}'
then pass "fine-tuning mixes user digits with MNIST and keeps $acc% on the test set"
else fail "fine-tuning: $out"; fi
expect 0 "fine-tuned model keeps the architecture" "fc128-relu-fc64-relu-fc10" -- $DN info "$tmp/ft.dnm"
expect 1 "fine-tuning a missing model" "cannot open" -- $DN train --finetune "$tmp/none.dnm" --data "$tmp/coll" -o "$tmp/x.dnm"

echo "cli: $fails failure(s)"
[ $fails -eq 0 ]
