#!/usr/bin/env bash
# walkthrough.sh — docs/walkthrough.md stays true: every command that
# scripts/walkthrough runs is printed verbatim on the page, every figure it
# writes is on the page and in the repository, the results table has a row
# per step, and every command still runs (scripts/walkthrough --quick: one
# epoch on 500 images each, then `digitnet show --curves`).
# Exits 77 (skip) without MNIST in data/mnist.
set -u
# They test the documentation, not memory safety: the sanitizer build
# (make test SAN=1) runs the same code paths through the other tests.
[ "${DN_SAN:-0}" = 1 ] && { echo "skip: documentation test, run by the normal build"; exit 77; }
BUILD=${BUILD:-build}
export DIGITNET=${DIGITNET:-$BUILD/digitnet}
mnist=${DN_MNIST_DIR:-data/mnist}
[ -f "$mnist/train-images-idx3-ubyte" ] || [ -f "$mnist/train-images-idx3-ubyte.gz" ] ||
    { echo "skip: no MNIST in $mnist (make data)"; exit 77; }
[ "$mnist" = data/mnist ] || { echo "skip: the walkthrough reads data/mnist"; exit 77; }
[ -x "$DIGITNET" ] || { echo "skip: $DIGITNET is not built"; exit 77; }

page=docs/walkthrough.md
fail=0
check() { # check NAME CONDITION...
    local name=$1
    shift
    if "$@"; then echo "ok    $name"; else echo "FAIL  $name"; fail=1; fi
}

steps=0
while IFS= read -r cmd; do
    steps=$((steps + 1))
    check "on the page: $cmd" grep -qF -- "$cmd" "$page"
    name=$(basename "${cmd##* -o }" .dnm)
    check "figure $name.svg is on the page and committed" \
        bash -c "grep -qF '(walkthrough/$name.svg)' '$page' && grep -q '<svg' 'docs/walkthrough/$name.svg'"
done < <(scripts/walkthrough --commands)
check "five steps" [ "$steps" -eq 5 ]
rows=$(sed -n '/<!-- results:begin -->/,/<!-- results:end -->/p' "$page" | grep -c '^| [0-9] |')
check "results table has a row per step ($rows)" [ "$rows" -eq "$steps" ]

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if scripts/walkthrough --quick "$tmp" >"$tmp/out" 2>&1; then
    cat "$tmp/out"
    check "every step trained and plotted" [ "$(ls "$tmp"/*.svg | wc -l)" -eq "$steps" ]
else
    cat "$tmp/out"
    check "scripts/walkthrough --quick" false
fi
exit $fail
