#!/usr/bin/env bash
# handwriting.sh — scripts/make-handwriting (docs/handwriting.md) on a small
# set: the same seed gives the same bytes and another seed other images;
# train and eval share no font file and no writer; every family holds every
# digit, and `digitnet test --normalize` reads the folders as they are and
# the shipped model reads them far above chance; `train --extra` mixes the
# train part into MNIST (and a killed run resumes with it); a directory that
# is not a handwriting set is never replaced; bad counts are refused.
set -u
DN=${DIGITNET:-build/digitnet}
MH=scripts/make-handwriting
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. tests/common.bash
if ! /usr/bin/python3 -c 'import numpy, PIL' 2>/dev/null; then
    echo "python3-numpy or python3-pil is not installed (scripts/install-deps --handwriting)"
    exit 77
fi

if $MH "$tmp/probe" --eval 1 --train 0 2>&1 | grep -q "is missing; install"; then
    $MH "$tmp/probe" --eval 1 --train 0 2>&1 | tail -1
    echo "a handwriting font is not installed (scripts/install-deps --handwriting)"
    exit 77
fi
expect 0 "a small set is written" "eval 90 images, train 60 images" -- \
    $MH "$tmp/a" --eval 3 --train 2 --seed 7
expect 0 "the same seed again" "" -- $MH "$tmp/b" --eval 3 --train 2 --seed 7
if diff -r "$tmp/a" "$tmp/b" >/dev/null; then pass "the same seed gives the same bytes"; else
    fail "two runs with seed 7 differ"; fi
expect 0 "another seed" "" -- $MH "$tmp/c" --eval 3 --train 2 --seed 8
if ! cmp -s "$tmp/a/eval/fonts/3/00000.png" "$tmp/c/eval/fonts/3/00000.png" 2>/dev/null ||
    ! cmp -s "$tmp/a/eval/canvas/5/00001.png" "$tmp/c/eval/canvas/5/00001.png" 2>/dev/null; then
    pass "another seed gives other images"
else
    fail "seeds 7 and 8 wrote the same images"
fi

# the MANIFEST names every font file with its side, and the writers
m="$tmp/a/MANIFEST"
both=$(awk '$1 == "train" && NF == 3 {t[$3] = 1} $1 == "eval" && NF == 3 && ($3 in t) {print $3}' "$m")
ntrain=$(awk '$1 == "train" && NF == 3' "$m" | wc -l)
neval=$(awk '$1 == "eval" && NF == 3' "$m" | wc -l)
if [ -z "$both" ] && [ "$ntrain" -ge 5 ] && [ "$neval" -ge 5 ]; then
    pass "train ($ntrain font files) and eval ($neval) share no font"
else
    fail "fonts on both sides or too few: train $ntrain, eval $neval, shared: $both"
fi
# a family (one Debian package) stays on one side: no directory on both
dboth=$(awk '$1 == "train" && NF == 3 {sub("/[^/]*$", "", $3); t[$3] = 1}
             $1 == "eval" && NF == 3 {d = $3; sub("/[^/]*$", "", d); if (d in t) print d}' "$m")
if [ -z "$dboth" ]; then pass "no font package on both sides"; else fail "font packages on both sides: $dboth"; fi
tw=$(sed -n 's/^train writers //p' "$m")
ew=$(sed -n 's/^eval writers //p' "$m")
shared=$(comm -12 <(tr ' ' '\n' <<<"$tw" | sort) <(tr ' ' '\n' <<<"$ew" | sort))
if [ -n "$tw" ] && [ -n "$ew" ] && [ -z "$shared" ]; then pass "train and eval share no writer ($tw | $ew)"
else fail "writers: train '$tw', eval '$ew', shared '$shared'"; fi

# every family and digit, and all/ holding every eval image
ok=1
for part in eval train; do
    for fam in fonts canvas photos; do
        for d in 0 1 2 3 4 5 6 7 8 9; do
            n=$(ls "$tmp/a/$part/$fam/$d" 2>/dev/null | wc -l)
            want=3; [ $part = train ] && want=2
            [ "$n" -eq $want ] || { ok=0; echo "  $part/$fam/$d holds $n images"; }
        done
    done
done
[ $ok = 1 ] && pass "every family holds every digit" || fail "a family lacks images"
all=$(find "$tmp/a/eval/all" -type f | wc -l)
[ "$all" -eq 90 ] && pass "eval/all holds the 90 eval images" || fail "eval/all holds $all images"

expect 0 "digitnet test reads the eval folders" "accuracy" -- \
    "$DN" test models/mnist-cnn.dnm --data "$tmp/a/eval/all" --normalize --json
acc=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["accuracy"])' "$tmp/out" 2>/dev/null)
if awk -v a="${acc:-0}" 'BEGIN{exit !(a >= 0.8)}'; then pass "the shipped CNN reads them (accuracy $acc on 90)"
else fail "the shipped CNN scores $acc on 90 generated digits"; fi

# train --extra mixes the train part into MNIST's training images; a killed
# run resumes with it (the checkpoint remembers it) to the same bytes
x="--arch 784-16-10 --epochs 2 -j 1 --subset 8000 --val 500 --seed 2 --no-test"
expect 0 "train --extra mixes the train part into MNIST" \
    "training on 60 digits of .*train/all \(x100\) mixed with 60000 of data/mnist" -- \
    "$DN" train $x --extra "$tmp/a/train/all" --normalize -o "$tmp/ref.dnm"
DIGITNET_TEST_KILL_AFTER_BATCHES=150 "$DN" train $x --extra "$tmp/a/train/all" --normalize \
    -o "$tmp/k.dnm" >/dev/null 2>&1
expect 0 "a killed --extra run resumes with its extra digits" "training on 60 digits" -- \
    "$DN" train --resume "$tmp/k.dnm.ckpt" -o "$tmp/k.dnm"
cmp -s "$tmp/ref.dnm" "$tmp/k.dnm" && pass "to the same bytes as the uninterrupted run" ||
    fail "the resumed --extra run differs from the uninterrupted one"
expect 2 "--extra with --finetune is refused" "give them as --data" -- \
    "$DN" train --finetune "$tmp/ref.dnm" --extra "$tmp/a/train/all" -o "$tmp/f.dnm"

# scripts/handwriting-subset: the first N of each digit and family
HS=scripts/handwriting-subset
expect 0 "a subset of the train part" "30 images in" -- $HS 1 "$tmp/s1" "$tmp/a/train"
n=$(ls "$tmp"/s1/*/ | grep -c -- '-00000\.')
[ "$n" = 30 ] && [ "$(ls "$tmp/s1/7" | wc -l)" = 3 ] && cmp -s "$tmp/s1/7/canvas-00000.png" \
    "$tmp/a/train/canvas/7/00000.png" && pass "holds the first image of each digit and family" ||
    fail "the subset holds: $(ls -R "$tmp/s1" | head -20)"
expect 0 "N past the part's size takes all" "60 images in" -- $HS 5 "$tmp/s5" "$tmp/a/train"
expect 1 "an existing subset is not replaced" "exists" -- $HS 1 "$tmp/s1" "$tmp/a/train"
expect 2 "a bad count is refused" "positive number" -- $HS 0 "$tmp/s0" "$tmp/a/train"
expect 0 "train --extra reads a subset" "saved" -- "$DN" train --arch 784-16-10 --epochs 1 \
    --subset 2000 --val 500 --no-test --extra "$tmp/s1" --normalize -o "$tmp/s.dnm"

mkdir "$tmp/mine"
echo keep >"$tmp/mine/notes.txt"
expect 1 "a directory that is not a set is refused" "not a handwriting set" -- \
    $MH "$tmp/mine" --eval 1 --train 0
[ -f "$tmp/mine/notes.txt" ] && pass "and left as it was" || fail "a foreign directory was replaced"
expect 2 "a count of 0 eval images is refused" "eval must be" -- $MH "$tmp/z" --eval 0
expect 0 "an existing set is replaced" "eval 30 images, train 0" -- $MH "$tmp/a" --eval 1 --train 0
[ ! -e "$tmp/a/train" ] && pass "with nothing of the old set left" || fail "the old train part is still there"
finish handwriting
