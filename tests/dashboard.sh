#!/usr/bin/env bash
# dashboard.sh — `digitnet train --serve` end to end with curl, on a small
# subset of MNIST (3,000 training images of which 500 validate, 1,000 test
# images):
#   - the address is printed at once (also with -q); GET /api/train grows
#     while training runs (since=N returns only newer points) and ends in
#     state "done" with every epoch, the best epoch and a confusion matrix
#     that sums to the test count; the page, 400/404/405 and the security
#     headers; the dashboard stays up after training and SIGTERM then ends
#     the command with status 0, closing the port;
#   - a busy port and bad options are clear errors;
#   - --resume shows the epochs of the checkpoint before training goes on;
#   - a run that diverges shows "failed" with the reason and exits 1 on
#     SIGTERM; SIGTERM during training stops it at once (status 1, no wait).
# Needs curl and python3 (to read JSON); exits 77 (skip) without them or
# without MNIST.
set -u
BUILD=${BUILD:-build}
DIGITNET=${DIGITNET:-$BUILD/digitnet}
command -v curl >/dev/null || { echo "skip: curl is not installed"; exit 77; }
command -v python3 >/dev/null || { echo "skip: python3 is not installed"; exit 77; }
[ -x "$DIGITNET" ] || { echo "skip: $DIGITNET is not built"; exit 77; }
mnist=${DN_MNIST_DIR:-data/mnist}
ls "$mnist"/train-images* "$mnist"/t10k-images* >/dev/null 2>&1 || { echo "skip: no MNIST in $mnist (make data)"; exit 77; }

tmp=$(mktemp -d)
pids=()
passed=0 failed=0
cleanup() {
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    if [ "$failed" -gt 0 ]; then
        for f in "$tmp"/*.err; do [ -s "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }; done
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); echo "ok    $1"; }
bad() { failed=$((failed + 1)); echo "FAIL  $1"; }
expect() { # expect NAME WANT GOT
    if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: expected '$2', got '$3'"; fi
}
# j FILE EXPR: evaluates a Python expression over the JSON in FILE (as d).
j() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" 2>&1; }
# status URL [CURL ARGS...]: prints the HTTP status; the body goes to $tmp/body
status() { curl -s -o "$tmp/body" -D "$tmp/headers" -w '%{http_code}' "$@"; }
state_of() { curl -s "$1api/train?since=0" -o "$tmp/poll.json" && j "$tmp/poll.json" 'd["state"]'; }

# Starts `digitnet train ARGS... --serve --port 0` in the background as NAME;
# sets pid and url once the address is printed.
start_train() {
    local name=$1
    shift
    "$DIGITNET" train "$@" --serve --port 0 >"$tmp/$name.out" 2>"$tmp/$name.err" &
    pid=$!
    pids+=("$pid")
    url=
    for _ in $(seq 300); do
        url=$(grep -o 'dashboard: http://127\.0\.0\.1:[0-9]*/' "$tmp/$name.err" 2>/dev/null | head -n1)
        url=${url#dashboard: }
        [ -n "$url" ] && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    cat "$tmp/$name.out" "$tmp/$name.err"
    bad "$name: no dashboard address printed"
    exit 1
}

# wait_state URL STATE SECONDS: polls until the dashboard shows STATE.
wait_state() {
    local s=
    for _ in $(seq $(($3 * 10))); do
        s=$(state_of "$1")
        [ "$s" = "$2" ] && return 0
        sleep 0.1
    done
    echo "      last state: $s"
    return 1
}

# stop PID: SIGTERM, then sets rc to its exit status (137 when it had to
# be killed after 30 s).
stop() {
    kill -TERM "$1" 2>/dev/null
    for _ in $(seq 300); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null
    wait "$1"
    rc=$?
}

# ---------------------------------------------------------------- data
mkdir "$tmp/data"
"$DIGITNET" convert "$mnist" --split train -n 3000 -q "$tmp/data/train-images-idx3-ubyte" &&
    "$DIGITNET" convert "$mnist" --split test -n 1000 -q "$tmp/data/t10k-images-idx3-ubyte" ||
    { echo "FAIL  could not make the small data set"; exit 1; }
small=(--data "$tmp/data" --val 500 --seed 1)

# ---------------------------------------------------------------- usage
"$DIGITNET" train "${small[@]}" --port 5000 -o "$tmp/x.dnm" >/dev/null 2>"$tmp/usage.err"
expect "--port without --serve is a usage error" 2 $?
grep -q -- '--serve' "$tmp/usage.err" && ok "the message names --serve" || bad "the message names --serve: $(cat "$tmp/usage.err")"
"$DIGITNET" train "${small[@]}" --serve --port 70000 -o "$tmp/x.dnm" >/dev/null 2>&1
expect "--port 70000 is a usage error" 2 $?
"$DIGITNET" train "${small[@]}" --serve --host '' -o "$tmp/x.dnm" >/dev/null 2>&1
expect "--host '' is a usage error" 2 $?
"$DIGITNET" train "${small[@]}" --serve --host no.such.host.invalid --port 0 -o "$tmp/x.dnm" >/dev/null 2>"$tmp/host.err"
expect "an unknown host is an error" 1 $?
grep -q "cannot use host" "$tmp/host.err" && ok "the message names the host" || bad "host message: $(cat "$tmp/host.err")"
"$DIGITNET" train --help | grep -q -- '--serve' && ok "--help lists --serve" || bad "--help lists --serve"

# ---------------------------------------------------------------- a run
# The run is paced through DIGITNET_TEST_PACE (see cmd/digitnet/cmd_train.c):
# it holds after the number of batches the pace file allows, so what is seen
# "while it runs" never depends on how fast this machine trains.
pace=$tmp/pace
echo 5 >"$pace"
allow() { echo "$1" >"$pace.new" && mv "$pace.new" "$pace"; }
DIGITNET_TEST_PACE=$pace start_train main --arch lenet5 --optimizer adam --lr 0.002 --epochs 3 "${small[@]}" -q -o "$tmp/m.dnm"
main_pid=$pid
base=$url
echo "dashboard at $url"
ok "address printed with -q"

# seq_at_least URL N SECONDS: polls until the dashboard has N batch points
# (a hang guard only: the run is held at a known batch).
points_at_least() {
    for _ in $(seq $(($3 * 10))); do
        curl -s "${1}api/train?since=0" -o "$tmp/p.json"
        [ "$(j "$tmp/p.json" "len(d['batch_points']) >= $2")" = True ] && return 0
        sleep 0.1
    done
    return 1
}

# While training: held after batch 5, then after batch 12; the points grow
# and since=N returns only newer ones.
wait_state "$base" running 300 && ok "state becomes running" || bad "state becomes running"
points_at_least "$base" 5 300 || bad "5 batch points while held at batch 5"
curl -s "${base}api/train?since=0" -o "$tmp/a.json"
expect "held at batch 5: 5 batch points, still running" "5 running" \
    "$(j "$tmp/a.json" 'str(len(d["batch_points"])) + " " + d["state"]')"
n_a=$(j "$tmp/a.json" 'len(d["batch_points"])')
seq_a=$(j "$tmp/a.json" 'd["seq"]')
allow 12
points_at_least "$base" 12 300 || bad "12 batch points once batch 12 is allowed"
curl -s "${base}api/train?since=$seq_a" -o "$tmp/b.json"
expect "new batch points arrive while running" "7 running" \
    "$(j "$tmp/b.json" 'str(len(d["batch_points"])) + " " + d["state"]')"
expect "since=N returns only newer points" True \
    "$(j "$tmp/b.json" "all(p['seq'] > $seq_a for p in d['batch_points'] + d['epoch_points'])")"
curl -s "${base}api/train?since=0" -o "$tmp/c.json"
expect "a full fetch later holds more points" True \
    "$(j "$tmp/c.json" "len(d['batch_points']) > $n_a")"
expect "live figures" True \
    "$(j "$tmp/c.json" 'd["epochs"] == 3 and d["batches"] == 40 and d["batch"] == 12 and d["images_per_sec"] > 0 and d["elapsed"] > 0')"
allow go

# The end: done, with the test evaluation, and the dashboard stays up.
wait_state "$base" done 600 && ok "state becomes done" || bad "state becomes done"
curl -s "${base}api/train?since=0" -o "$tmp/d.json"
expect "test count" 1000 "$(j "$tmp/d.json" 'd["test"]["count"]')"
expect "confusion matrix sums to the test count" 1000 \
    "$(j "$tmp/d.json" 'sum(map(sum, d["test"]["confusion"]))')"
expect "confusion diagonal is the correct count" True \
    "$(j "$tmp/d.json" 'sum(d["test"]["confusion"][i][i] for i in range(10)) == d["test"]["correct"]')"
expect "every epoch with a validation accuracy" "[1, 2, 3]" \
    "$(j "$tmp/d.json" '[e["epoch"] for e in d["epoch_points"] if 0 < e["val_accuracy"] <= 1]')"
expect "best epoch is the best validation accuracy" True \
    "$(j "$tmp/d.json" 'max(d["epoch_points"], key=lambda e: e["val_accuracy"])["val_accuracy"] == d["best_val_accuracy"]')"
expect "finished: ETA 0, message names the model" True \
    "$(j "$tmp/d.json" 'd["eta"] == 0 and d["message"].startswith("saved ")')"
expect "about 40 batch points per 40-batch epoch" True \
    "$(j "$tmp/d.json" '100 <= len(d["batch_points"]) <= 120')"
for _ in $(seq 50); do grep -q "dashboard is still at" "$tmp/main.err" && break; sleep 0.1; done
grep -q "training finished; the dashboard is still at $base" "$tmp/main.err" &&
    ok "says the dashboard stays up" || bad "says the dashboard stays up: $(tail -n 3 "$tmp/main.err")"
[ -f "$tmp/m.dnm" ] && [ ! -e "$tmp/m.dnm.ckpt" ] && ok "model saved, checkpoint removed" || bad "model saved, checkpoint removed"
kill -0 "$main_pid" 2>/dev/null && ok "still serving after training" || bad "still serving after training"

# Routes, statuses and headers.
expect "GET /" 200 "$(status "$base")"
grep -q '<script src="/train.js"' "$tmp/body" && ok "train.html served" || bad "train.html served"
grep -qi "^Content-Security-Policy: default-src 'self'" "$tmp/headers" && ok "CSP header" || bad "CSP header"
grep -qi "^X-Content-Type-Options: nosniff" "$tmp/headers" && ok "nosniff header" || bad "nosniff header"
expect "GET /train.js" 200 "$(status "${base}train.js")"
expect "GET /train.css" 200 "$(status "${base}train.css")"
expect "GET /healthz" 200 "$(status "${base}healthz")"
expect "GET /index.html (not the drawing page)" 404 "$(status "${base}index.html")"
grep -q '"error":"' "$tmp/body" && ok "404 is a JSON error" || bad "404 is a JSON error"
expect "GET /api/predict" 404 "$(status "${base}api/predict")"
expect "POST /api/train" 405 "$(status -X POST --data x "${base}api/train")"
grep -qi "^Allow: GET, HEAD" "$tmp/headers" && ok "405 carries Allow" || bad "405 carries Allow"
expect "since=abc" 400 "$(status "${base}api/train?since=abc")"
expect "3 MiB body" 413 "$(status -X POST -H 'Content-Type: application/octet-stream' \
    --data-binary @<(head -c $((3 << 20)) /dev/zero) "${base}api/train")"

# A second dashboard on the same port: a clear error before any training.
port=${base##*:}
port=${port%/}
"$DIGITNET" train "${small[@]}" --epochs 1 --serve --port "$port" -o "$tmp/y.dnm" >/dev/null 2>"$tmp/busy.err"
expect "a busy port is an error" 1 $?
grep -q "cannot listen on 127.0.0.1 port $port" "$tmp/busy.err" && ok "the message names the port" ||
    bad "busy message: $(cat "$tmp/busy.err")"

stop "$main_pid"
expect "SIGTERM ends the command with the run's status" 0 $rc
curl -s -m 2 "${base}healthz" >/dev/null
expect "the port is closed afterwards" 7 $?

# ---------------------------------------------------------------- resume
# Killed during epoch 3 (after 100 of its 40-batch epochs' batches), then
# resumed with the dashboard: epochs 1 and 2 come from the checkpoint.
DIGITNET_TEST_KILL_AFTER_BATCHES=100 "$DIGITNET" train --arch mlp --epochs 4 "${small[@]}" \
    -o "$tmp/r.dnm" >/dev/null 2>&1
[ -f "$tmp/r.dnm.ckpt" ] && ok "a killed run left its checkpoint" || bad "a killed run left its checkpoint"
start_train resume --resume "$tmp/r.dnm.ckpt" -o "$tmp/r.dnm"
curl -s "${url}api/train?since=0" -o "$tmp/r0.json"
expect "resumed dashboard lists the checkpoint's epochs at once" True \
    "$(j "$tmp/r0.json" '[e["epoch"] for e in d["epoch_points"]][:2] == [1, 2] and d["epochs"] == 4')"
expect "the checkpoint's epochs have no seconds" None "$(j "$tmp/r0.json" 'd["epoch_points"][0]["seconds"]')"
expect "resumed title" True "$(j "$tmp/r0.json" '"resumed after epoch 2" in d["title"] or d["title"].endswith("r.dnm.ckpt")')"
wait_state "$url" done 600 && ok "resumed run ends done" || bad "resumed run ends done"
curl -s "${url}api/train?since=0" -o "$tmp/r1.json"
expect "resumed run lists all 4 epochs" "[1, 2, 3, 4]" "$(j "$tmp/r1.json" '[e["epoch"] for e in d["epoch_points"]]')"
stop "$pid"
expect "resumed run: SIGTERM exits 0" 0 $rc

# ---------------------------------------------------------------- failures
start_train diverge --arch mlp --epochs 2 --lr 1000000 "${small[@]}" -o "$tmp/v.dnm"
wait_state "$url" failed 300 && ok "a diverging run shows failed" || bad "a diverging run shows failed"
curl -s "${url}api/train?since=0" -o "$tmp/v.json"
expect "the reason is shown" True "$(j "$tmp/v.json" '"diverged" in d["message"] and d["test"] is None')"
kill -0 "$pid" 2>/dev/null && ok "the failed run's dashboard stays up" || bad "the failed run's dashboard stays up"
stop "$pid"
expect "failed run: SIGTERM exits 1" 1 $rc

start_train stopped --arch lenet5 --epochs 50 "${small[@]}" -o "$tmp/s.dnm"
wait_state "$url" running 300 || bad "long run starts"
stop "$pid"
expect "SIGTERM during training stops at once with status 1" 1 $rc
grep -q "interrupted" "$tmp/stopped.err" && ok "says it was interrupted" || bad "says it was interrupted"
grep -q "dashboard is still at" "$tmp/stopped.err" && bad "no waiting after a signal" || ok "no waiting after a signal"

echo
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
