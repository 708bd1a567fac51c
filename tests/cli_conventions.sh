#!/usr/bin/env bash
# cli_conventions.sh — one command-line convention for every subcommand:
#   - -h, --help and 'digitnet help CMD' print usage and exit 0;
#   - a parse error is printed once, "digitnet CMD: ...", plus the --help
#     hint, exit 2 (no second message from getopt);
#   - serve and info use the same parser (abbreviations, --, --json);
#   - no escape codes on a TERM=dumb terminal, and some on a real one (run
#     under script(1) so stderr is a terminal);
#   - outputs are checked before any work: empty, a directory, a device,
#     a missing folder; messages name the user's file, never a temporary;
#   - a directory or FIFO given as a model or image says what it is, and
#     never blocks;
#   - config files: errors give FILE:LINE, a UTF-8 byte order mark is
#     accepted, a directory is refused;
#   - the shipped model is found from any working directory;
#   - no command writes over one of its own inputs, whatever name it is
#     given by (the same path, ./path, a symbolic link).
set -u
DN=$(realpath "${DIGITNET:-build/digitnet}")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/common.bash"
loud=(--arch 784-16-10 --epochs 1 --subset 600 --val 100 -j 1 --no-test)
small=("${loud[@]}" -q)
cmds=(train test info calibrate predict convert show serve)

# --- help
for c in "${cmds[@]}"; do
    expect 0 "$c -h" "^usage: digitnet $c" -- "$DN" "$c" -h
    expect 0 "$c --help" "^usage: digitnet $c" -- "$DN" "$c" --help
    expect 0 "help $c" "^usage: digitnet $c" -- "$DN" help "$c"
    "$DN" "$c" -h | grep -q -- '-h, --help' && pass "$c --help lists -h, --help" || fail "$c --help lists -h, --help"
done
expect 2 "help of an unknown command" "unknown command 'frob'" -- "$DN" help frob

# --- one message per parse error, prefixed "digitnet CMD:"
for c in "${cmds[@]}"; do
    "$DN" "$c" --frobnicate >"$tmp/o" 2>"$tmp/e"
    rc=$?
    first=$(head -n1 "$tmp/e")
    if [ $rc -eq 2 ] && [ "$first" = "digitnet $c: unknown option '--frobnicate'" ] &&
        [ "$(wc -l <"$tmp/e")" -eq 2 ] && grep -qx "Try 'digitnet $c --help'." "$tmp/e"; then
        pass "$c: an unknown option is reported once"
    else fail "$c: unknown option: exit $rc: $(cat "$tmp/e")"; fi
done
"$DN" train -e 2>"$tmp/e" >/dev/null
[ "$(head -n1 "$tmp/e")" = "digitnet train: option '-e' needs a value" ] && [ "$(wc -l <"$tmp/e")" -eq 2 ] &&
    pass "a missing value is reported once" || fail "missing value: $(cat "$tmp/e")"
"$DN" train -qx 2>"$tmp/e" >/dev/null
[ "$(head -n1 "$tmp/e")" = "digitnet train: unknown option '-x'" ] && pass "an unknown letter in a group" ||
    fail "group: $(cat "$tmp/e")"

# --- serve and info parse like the others
expect 2 "serve --po (an abbreviation of --port) checks its value" "--port: '99999'" -- "$DN" serve --po 99999
expect 1 "serve -- MODEL takes MODEL" "$tmp/none.dnm: cannot open" -- "$DN" serve -- "$tmp/none.dnm"
expect 2 "serve with two models" "unexpected argument" -- "$DN" serve a.dnm b.dnm
expect 0 "info --json MODEL" '"architecture":"(deskew-)?conv' -- "$DN" info --json models/mnist-cnn.dnm
expect 0 "info MODEL --json (any order)" '"architecture":"fc128' -- "$DN" info models/mnist-mlp.dnm --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["parameters"] > 0 and len(d["history"]) == 20 and d["history"][0]["epoch"] == 1' "$tmp/out" &&
    pass "info --json is one JSON object with the history" || fail "info --json: $(cat "$tmp/out")"

# --- terminals: escape codes only where they belong
if command -v script >/dev/null; then
    for term in dumb xterm; do
        TERM=$term script -qec "$DN train ${loud[*]} --no-checkpoint -o $tmp/t-$term.dnm" "$tmp/typescript-$term" >/dev/null 2>&1
    done
    if grep -q $'\033' "$tmp/typescript-dumb"; then fail "TERM=dumb: escape codes written"
    else pass "TERM=dumb: no escape codes"; fi
    grep -q $'\033\[K' "$tmp/typescript-xterm" && pass "TERM=xterm: the progress line uses escape codes" ||
        fail "TERM=xterm: no progress line (the dumb check would prove nothing)"
else
    fail "script(1) is not installed (bsdutils)"
fi

# --- outputs are checked before training starts
expect 2 "-o ''" "-o needs a file name" -- "$DN" train "${small[@]}" -o ''
[ -z "$(ls "$tmp"/*.ckpt 2>/dev/null)" ] && [ ! -e .ckpt ] && pass "-o '' leaves no checkpoint" || fail "-o '' left a checkpoint"
mkdir "$tmp/adir"
expect 2 "-o DIR" "adir: is a directory" -- "$DN" train "${small[@]}" -o "$tmp/adir"
expect 1 "-o in a missing folder fails before training" "no/such/m.dnm: cannot write: No such file" -- \
    "$DN" train --arch 784-16-10 --epochs 1 -o "$tmp/no/such/m.dnm"
grep -q "^training\|epoch" "$tmp/out" && fail "it trained first: $(cat "$tmp/out")" || pass "nothing was trained"
grep -q "\.tmp" "$tmp/out" && fail "the message names a temporary file" || pass "the message names the user's file"
mkfifo "$tmp/fifo"
expect 2 "-o FIFO" "fifo: is a FIFO" -- timeout 20 "$DN" train "${small[@]}" -o "$tmp/fifo"

# --- directories and FIFOs as inputs
expect 1 "a directory as a model" "adir: is a directory" -- "$DN" info "$tmp/adir"
expect 1 "a FIFO as a model does not block" "fifo: is a FIFO" -- timeout 20 "$DN" test "$tmp/fifo"
expect 1 "a FIFO as an image does not block" "fifo: is a FIFO" -- timeout 20 "$DN" predict "$tmp/fifo"
mkdir "$tmp/imgs"
mkfifo "$tmp/imgs/x.png"
expect 1 "a FIFO named x.png in a folder does not block" "x.png: is a FIFO" -- timeout 20 "$DN" predict "$tmp/imgs"

# --- config files
printf 'epochs = 1\narch = 784-16-10\nlr = fast\n' >"$tmp/bad.conf"
expect 2 "a bad config value names FILE:LINE" "bad.conf:3: lr: 'fast' is not a number" -- \
    "$DN" train -c "$tmp/bad.conf" -o "$tmp/x.dnm"
printf 'epochs = 1\nfrob = 2\n' >"$tmp/bad2.conf"
expect 2 "an unknown config option names FILE:LINE" "bad2.conf:2: unknown option 'frob'" -- \
    "$DN" train -c "$tmp/bad2.conf" -o "$tmp/x.dnm"
printf '\xef\xbb\xbfarch = 784-16-10\nepochs = 1\nsubset = 600\nval = 100\n' >"$tmp/bom.conf"
expect 0 "a config file with a UTF-8 byte order mark" "saved" -- \
    "$DN" train -c "$tmp/bom.conf" --no-test -o "$tmp/bom.dnm"
expect 0 "its settings were applied" "fc16-relu-fc10" -- "$DN" info "$tmp/bom.dnm"
expect 2 "a directory as the config file" "adir: is a directory" -- "$DN" train -c "$tmp/adir" -o "$tmp/x.dnm"
printf 'quiet = yes\n' >"$tmp/flag.conf"
expect 2 "a value for a flag" "flag.conf:1: option 'quiet' takes no value" -- "$DN" train -c "$tmp/flag.conf" -o "$tmp/x.dnm"

# --- the shipped model from anywhere
(cd / && "$DN" info) >"$tmp/info" 2>&1 && grep -q "mnist-cnn.dnm" "$tmp/info" &&
    pass "info without MODEL from / finds the shipped model" || fail "info from /: $(cat "$tmp/info")"
mkdir "$tmp/empty"
cp "$DN" "$tmp/empty/digitnet"
(cd / && "$tmp/empty/digitnet" info) >"$tmp/info" 2>&1
[ $? -eq 1 ] && grep -q "no MODEL given, and no shipped model" "$tmp/info" &&
    pass "a binary without models says where it looked" || fail "no models: $(cat "$tmp/info")"

# --- an output that is one of the inputs is refused before any work
"$DN" convert data/mnist --split test --count 30 --to csv "$tmp/in.csv" -q >/dev/null 2>&1
cp "$tmp/in.csv" "$tmp/in.orig"
cp models/mnist-mlp.dnm "$tmp/model.dnm"
ln -s in.csv "$tmp/alias.csv"
expect 2 "predict --submission onto its input CSV" "is also an input" -- \
    "$DN" predict "$tmp/in.csv" --submission "$tmp/in.csv"
expect 2 "predict --submission onto its input through a symlink" "is also an input" -- \
    "$DN" predict "$tmp/in.csv" --submission "$tmp/alias.csv"
expect 2 "predict --submission onto the model" "is also an input" -- \
    "$DN" predict "$tmp/model.dnm" "$tmp/in.csv" --submission "$tmp/model.dnm"
expect 2 "convert onto its source" "is also an input" -- \
    "$DN" convert "$tmp/in.csv" "$tmp/./in.csv"
expect 2 "train -o onto its --data" "is also an input" -- \
    "$DN" train --data "$tmp/in.csv" --val 5 --no-test -e 1 -o "$tmp/in.csv"
printf 'epochs = 1\n' >"$tmp/t.conf"
expect 2 "train -o onto its config file" "is also an input" -- \
    "$DN" train -c "$tmp/t.conf" --data "$tmp/in.csv" --val 5 --no-test -o "$tmp/t.conf"
if cmp -s "$tmp/in.csv" "$tmp/in.orig" && grep -q epochs "$tmp/t.conf"; then
    pass "the inputs are untouched"
else fail "an input was overwritten"; fi
expect 0 "predict --submission to a new file still works" "" -- \
    "$DN" predict "$tmp/in.csv" --submission "$tmp/sub.csv"

finish cli_conventions
