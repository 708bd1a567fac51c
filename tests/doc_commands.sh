#!/usr/bin/env bash
# doc_commands.sh — every `digitnet` command shown in a ```sh block of
# README.md or docs/*.md still runs (and scripts/handwriting-subset, whose
# folder the commands after it read).
#
# Each page runs in its own scratch directory, its commands in page order
# (so a model trained by one line is there for the next), with the fixtures
# the examples name: photo.jpg, drawings/, photos/, test.csv, model.dnm,
# my-digits/, data/ (MNIST) and copies of models/ and configs/. Adjustments,
# so that the whole run takes seconds:
#   - train: `--epochs 1 --subset 700 --val 200 --no-test --no-checkpoint`
#     appended (later options win; for --finetune the subset is taken from
#     the mixed data, so it holds the user's digits);
#   - serve and train --serve: `--port 0` appended; the command must print
#     its URL and answer GET / with 200, then it is stopped with SIGTERM;
#   - synopsis lines (with [OPTIONAL] parts or placeholders such as MODEL,
#     SRC, DIR) are not commands and are skipped, and so are commands that
#     read data/handwriting when `make handwriting` has not been run (and
#     those reading what such a command would have made).
# Exits 77 (skip) without MNIST in data/mnist or without curl.
set -u
# They test the documentation, not memory safety: the sanitizer build
# (make test SAN=1) runs the same code paths through the other tests.
[ "${DN_SAN:-0}" = 1 ] && { echo "skip: documentation test, run by the normal build"; exit 77; }
BUILD=${BUILD:-build}
DIGITNET=$(cd "$(dirname "${DIGITNET:-$BUILD/digitnet}")" 2>/dev/null && pwd)/$(basename "${DIGITNET:-$BUILD/digitnet}")
root=$(pwd)
[ -x "$DIGITNET" ] || { echo "skip: $DIGITNET is not built"; exit 77; }
[ -f data/mnist/train-images-idx3-ubyte ] || [ -f data/mnist/train-images-idx3-ubyte.gz ] ||
    { echo "skip: no MNIST in data/mnist (make data)"; exit 77; }
command -v curl >/dev/null || { echo "skip: curl is not installed"; exit 77; }

tmp=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
fail=0 ran=0 skipped=0

# ---------------------------------------------------------------- fixtures
fx=$tmp/fixtures
mkdir -p "$fx/bin" "$fx/drawings" "$fx/photos"
ln -s "$DIGITNET" "$fx/bin/digitnet"
{
    "$DIGITNET" convert data/mnist "$fx/digits" --split test -n 30 &&
        cp "$fx"/digits/*/00001.png "$fx/drawings/" 2>/dev/null
    for d in "$fx"/digits/*/; do cp "$d"/00001.png "$fx/drawings/$(basename "$d").png"; done
    "$DIGITNET" convert "$fx/digits" "$fx/test.csv" &&
        mkdir -p "$fx/my-digits" &&
        "$DIGITNET" convert "$fx/digits" "$fx/my-digits/train-images-idx3-ubyte"
} >"$tmp/fixtures.log" 2>&1 || {
    cat "$tmp/fixtures.log"
    echo "FAIL  fixtures"
    exit 1
}
# photos: user-like JPEG/PNG/PPM pictures when the generator is built, else the drawings
if [ -x "$BUILD/tests/test_userimages_slow" ] &&
    "$BUILD/tests/test_userimages_slow" --write "$fx/photos" >/dev/null 2>&1 &&
    ls "$fx"/photos/*.jpg >/dev/null 2>&1; then
    cp "$(ls "$fx"/photos/*.jpg | head -n1)" "$fx/photo.jpg"
else
    echo "skip: no JPEG photo generator ($BUILD/tests/test_userimages_slow); pages that need photo.jpg are skipped"
fi
cp -r "$fx/drawings/." "$fx/photos/"

# ---------------------------------------------------------------- commands
# The commands of one page: "LINE<TAB>command", continuation lines joined.
commands() {
    awk '
        /^[[:space:]]*```/ {
            if (infence) { infence = 0; sh = 0 } else { infence = 1; sh = ($0 ~ /```(sh|bash)[[:space:]]*$/) }
            next
        }
        infence && sh {
            line = $0
            if (cont != "") line = cont " " line; else start = FNR
            if (line ~ /\\[[:space:]]*$/) { sub(/\\[[:space:]]*$/, "", line); cont = line; next }
            cont = ""
            sub(/[[:space:]]+#.*$/, "", line)
            gsub(/[[:space:]]+/, " ", line)
            sub(/^[[:space:]]+/, "", line)
            if (line ~ /^((build\/)?digitnet|scripts\/handwriting-subset) /) print start "\t" line
        }' "$1"
}

# Runs a server-like command until it prints its URL, GETs /, stops it.
run_server() { # LOG ARGS...
    local log=$1
    shift
    "$@" >"$log" 2>&1 &
    pid=$!
    local url=
    for _ in $(seq 600); do
        url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$log" | head -n1)
        [ -n "$url" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    local ok=1
    [ -n "$url" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "$url")" = 200 ] || ok=0
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    pid=
    return $((1 - ok))
}

for page in README.md docs/*.md; do
    list=$(commands "$page")
    [ -n "$list" ] || continue
    work=$tmp/run/$(basename "$page" .md)
    mkdir -p "$work/build"
    cp -r "$fx/drawings" "$fx/photos" "$fx/my-digits" "$fx/test.csv" "$work/"
    [ -f "$fx/photo.jpg" ] && cp "$fx/photo.jpg" "$work/"
    cp models/mnist-mlp.dnm "$work/model.dnm"
    cp -r models "$work/models"
    cp -r configs "$work/configs"
    ln -s "$root/data" "$work/data"
    ln -s "$DIGITNET" "$work/build/digitnet"
    mkdir -p "$work/build/walkthrough"
    unmade= # files a skipped command would have made
    while IFS=$'\t' read -r line cmd; do
        where="$page:$line"
        if [[ "$cmd" =~ \[|(^|[ /])[A-Z]{3,}([ .]|$) ]]; then
            skipped=$((skipped + 1))
            continue
        fi
        if [[ "$cmd" == *photo.jpg* ]] && [ ! -f "$work/photo.jpg" ]; then
            skipped=$((skipped + 1))
            continue
        fi
        # the handwriting set is made by `make handwriting`, not by the tests:
        # without it, skip what reads it, and what reads the files those make
        if [ ! -f data/handwriting/MANIFEST ]; then
            needs=0
            [[ "$cmd" == *handwriting* ]] && needs=1
            for f in $unmade; do [[ " $cmd " == *" $f "* ]] && needs=1; done
            if [ $needs = 1 ]; then
                read -r -a words <<<"$cmd"
                for ((w = 0; w < ${#words[@]}; w++)); do # its output, or a subset's folder
                    [ "${words[w]}" = -o ] && unmade="$unmade ${words[w + 1]:-}"
                done
                [[ ${words[0]} == scripts/handwriting-subset ]] && unmade="$unmade ${words[2]:-}"
                skipped=$((skipped + 1))
                continue
            fi
        fi
        read -r -a argv <<<"$cmd"
        if [[ ${argv[0]} == scripts/* ]]; then # a script the page's commands need
            argv[0]=$root/${argv[0]}
            sub=script
        else
            argv[0]=$DIGITNET
            sub=${argv[1]}
        fi
        extra=()
        if [ "$sub" = train ] && [[ " $cmd " != *" --help "* ]]; then
            extra=(--epochs 1 --subset 700 --val 200 --no-test --no-checkpoint)
        fi
        ran=$((ran + 1))
        log=$tmp/log.$ran
        t0=$(date +%s.%N)
        if [ "$sub" = serve ] || [[ " $cmd " == *" --serve "* ]]; then
            (cd "$work" && PATH=$fx/bin:$PATH run_server "$log" "${argv[@]}" "${extra[@]}" --port 0)
        else
            (cd "$work" && PATH=$fx/bin:$PATH timeout 600 "${argv[@]}" "${extra[@]}") >"$log" 2>&1
        fi
        rc=$?
        secs=$(printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)")
        if [ $rc -eq 0 ]; then
            echo "ok    $where  $cmd  (${secs} s)"
        else
            echo "FAIL  $where  $cmd"
            tail -n 5 "$log" | sed 's/^/      /'
            fail=1
        fi
    done <<<"$list"
done
echo "$ran documented commands run, $skipped synopsis lines skipped"
[ "$ran" -ge 20 ] || { echo "FAIL  expected at least 20 commands"; fail=1; }
exit $fail
