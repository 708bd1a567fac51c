#!/usr/bin/env bash
# cnn.sh — a short CNN training smoke test: a small convolutional network
# trained for 3 epochs on 15,000 MNIST images must reach >= 97% on the
# 10,000 test images, and the saved model must load, test and describe
# itself with the same accuracy.
set -u
DN=${DIGITNET:-build/digitnet}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$($DN train --arch conv5x5x8p2-relu-pool2-conv5x5x16-relu-pool2-fc10 --subset 16000 \
      --val 1000 --epochs 3 --batch 32 --optimizer adam --lr 0.002 --seed 1 -o "$tmp/c.dnm" 2>&1)
acc=$(sed -n 's/^test accuracy: \([0-9.]*\)%.*/\1/p' <<<"$out")
echo "$out" | tail -n 3
if [ -z "$acc" ] || ! awk -v a="$acc" 'BEGIN{exit !(a >= 97.0)}'; then
    echo "FAIL: CNN smoke test reached '$acc' (< 97%)"; exit 1
fi
again=$($DN test "$tmp/c.dnm" --json | python3 -c 'import json,sys; print("%.2f" % (100*json.load(sys.stdin)["accuracy"]))')
[ "$again" = "$acc" ] || { echo "FAIL: reloaded model scores $again, training reported $acc"; exit 1; }
$DN info "$tmp/c.dnm" | grep -q "conv5x5x8p2-relu-pool2-conv5x5x16-relu-pool2-fc10" ||
    { echo "FAIL: info does not show the architecture"; exit 1; }
echo "ok   CNN smoke test: $acc% >= 97%, reloaded model agrees"
