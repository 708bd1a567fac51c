#!/usr/bin/env bash
# data_formats.sh — `train --data` and `test --data` read the data users
# have: a directory of MNIST-named IDX files, a Kaggle-style CSV file, a
# folder tree of images (one subfolder per label, as in the JPG data sets
# of the seed projects), with --normalize and --invert for images of other
# sizes and polarities; and bad data gets a message saying what was looked
# for. Small sets (600 training, 200 test images) cut from MNIST.
set -u
DN=${DIGITNET:-build/digitnet}
mnist=${DN_MNIST_DIR:-data/mnist}
ls "$mnist"/train-images* >/dev/null 2>&1 || { echo "skip: no MNIST in $mnist (make data)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/common.bash"
acc() { sed -n 's/^test accuracy: \([0-9.]*\)%.*/\1/p; s/^accuracy  \([0-9.]*\)%.*/\1/p' "$tmp/out" | head -n1; }
at_least() { awk -v a="$1" -v b="$2" 'BEGIN{exit !(a >= b)}'; }

# The same 1,200 training and 200 test digits in three formats.
"$DN" convert "$mnist" --split train -n 1200 -q "$tmp/small.csv" &&
    "$DN" convert "$mnist" --split test -n 200 -q "$tmp/test.csv" &&
    "$DN" convert "$tmp/small.csv" -q "$tmp/folder" &&
    "$DN" convert "$tmp/test.csv" -q "$tmp/testfolder" || { echo "FAIL could not make the data"; exit 1; }
train=(--arch 784-64-10 --epochs 3 --val 200 -j 1 --seed 1 -q)

# --- a CSV file
expect 0 "train --data small.csv trains" "test accuracy" -- \
    "$DN" train "${train[@]}" --data "$tmp/small.csv" --test-data "$tmp/test.csv" -o "$tmp/csv.dnm"
a=$(acc)
at_least "${a:-0}" 70 && pass "and scores $a% on 200 test digits" || fail "CSV-trained accuracy '$a'"
expect 0 "without --test-data it says there is no test set" "no test set evaluated: .*--test-data" -- \
    "$DN" train "${train[@]}" --data "$tmp/small.csv" --no-checkpoint -o "$tmp/csv2.dnm"
expect 0 "test --data FILE.csv" "accuracy" -- "$DN" test "$tmp/csv.dnm" --data "$tmp/test.csv"
a_csv=$(acc)
expect 0 "test --csv FILE (the older spelling)" "accuracy" -- "$DN" test "$tmp/csv.dnm" --csv "$tmp/test.csv"

# --- a folder tree of images
expect 0 "train --data folder/ trains" "test accuracy" -- \
    "$DN" train "${train[@]}" --data "$tmp/folder" --test-data "$tmp/testfolder" -o "$tmp/folder.dnm"
a=$(acc)
at_least "${a:-0}" 70 && pass "and scores $a% on 200 test digits" || fail "folder-trained accuracy '$a'"
expect 0 "its validation images hold every digit (read round-robin)" "" -- "$DN" info "$tmp/folder.dnm"
v=$(awk '$1 == 3 && $4 ~ /%/ {sub("%", "", $4); print $4}' "$tmp/out")
at_least "${v:-0}" 50 && pass "validation accuracy $v% (not a tail of one digit)" || fail "validation accuracy '$v'"
expect 0 "test --data folder/" "accuracy" -- "$DN" test "$tmp/folder.dnm" --data "$tmp/testfolder"
a_folder=$(acc)
expect 0 "the folder model on the CSV test set" "accuracy" -- "$DN" test "$tmp/folder.dnm" --data "$tmp/test.csv"
[ "$(acc)" = "$a_folder" ] && pass "the same digits as a folder and as a CSV give the same accuracy ($a_folder%)" ||
    fail "folder $a_folder% vs CSV $(acc)%"
# --- images of another size and polarity: --normalize, --invert
python3 - "$tmp/folder" "$tmp/big" <<'PY'
import os, struct, sys, zlib
src, dst = sys.argv[1:]
def read_png_gray(path):  # the PNGs convert wrote: 8-bit gray, one IDAT
    d = open(path, "rb").read()
    w, h = struct.unpack(">II", d[16:24])
    i, idat = 8, b""
    while i < len(d):
        n, = struct.unpack(">I", d[i:i + 4]); t = d[i + 4:i + 8]
        if t == b"IDAT": idat += d[i + 8:i + 8 + n]
        i += 12 + n
    raw = zlib.decompress(idat)
    rows, prev = [], bytearray(w)
    for y in range(h):
        f, line = raw[y * (w + 1)], bytearray(raw[y * (w + 1) + 1:(y + 1) * (w + 1)])
        for x in range(w):
            a = line[x - 1] if x else 0
            b, c = prev[x], prev[x - 1] if x else 0
            if f == 1: line[x] = (line[x] + a) & 255
            elif f == 2: line[x] = (line[x] + b) & 255
            elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line)); prev = line
    return w, h, rows
for label in sorted(os.listdir(src)):
    os.makedirs(f"{dst}/{label}", exist_ok=True)
    for name in sorted(os.listdir(f"{src}/{label}"))[:40]:
        w, h, rows = read_png_gray(f"{src}/{label}/{name}")
        # 3x larger, dark ink on white paper, as a PGM
        big = b"".join(bytes(255 - v for v in row for _ in range(3)) * 3 for row in rows)
        open(f"{dst}/{label}/{name[:-4]}.pgm", "wb").write(b"P5 %d %d 255\n" % (3 * w, 3 * h) + big)
PY
expect 1 "84x84 images without --normalize are refused" "use --normalize" -- \
    "$DN" test "$tmp/csv.dnm" --data "$tmp/big"
expect 0 "test --data big/ --normalize --invert" "accuracy" -- \
    "$DN" test "$tmp/csv.dnm" --data "$tmp/big" --normalize --invert
a=$(acc)
at_least "${a:-0}" 60 && pass "dark-on-light 84x84 digits, normalised and inverted: $a%" || fail "normalised accuracy '$a'"
expect 0 "train --data big/ --normalize --invert" "best validation" -- \
    "$DN" train "${train[@]}" --epochs 1 --val 50 --data "$tmp/big" --normalize --invert --no-checkpoint -o "$tmp/big.dnm"
[ -f "$tmp/big.dnm" ] && pass "and saves the model" || fail "no model saved"

# --- bad data
"$DN" convert "$mnist" --split test -n 50 -q "$tmp/plain.csv" && cut -d, -f2- "$tmp/plain.csv" >"$tmp/unlabeled.csv"
expect 1 "an unlabeled CSV" "has no labels" -- "$DN" train "${train[@]}" --data "$tmp/unlabeled.csv" -o "$tmp/x.dnm"
expect 1 "test on an unlabeled CSV points to predict" "digitnet predict" -- "$DN" test "$tmp/csv.dnm" --data "$tmp/unlabeled.csv"
printf 'label,pixel0\n3,x\n' >"$tmp/junk.csv"
expect 1 "a malformed CSV" "junk.csv" -- "$DN" train "${train[@]}" --data "$tmp/junk.csv" -o "$tmp/x.dnm"
mkdir "$tmp/empty"
expect 1 "an empty folder says what was looked for" "no data found: looked for train-images-idx3-ubyte.*subfolders 0..9" -- \
    "$DN" train "${train[@]}" --data "$tmp/empty" -o "$tmp/x.dnm"
expect 1 "the same for test" "looked for t10k-images-idx3-ubyte" -- "$DN" test "$tmp/csv.dnm" --data "$tmp/empty"
echo "hello" >"$tmp/notes.txt"
expect 1 "a text file" "not a data set: expected a directory of MNIST-named IDX files, a folder" -- \
    "$DN" train "${train[@]}" --data "$tmp/notes.txt" -o "$tmp/x.dnm"
mkdir -p "$tmp/badfolder/3"
echo "not an image" >"$tmp/badfolder/3/a.png"
expect 1 "a folder with a broken image names it" "badfolder/3/a.png" -- \
    "$DN" train "${train[@]}" --data "$tmp/badfolder" -o "$tmp/x.dnm"
ls "$tmp"/x.dnm* >/dev/null 2>&1 && fail "a failed run left files" || pass "failed runs leave no model or checkpoint"

# --- resuming a CSV run reads the CSV again
DIGITNET_TEST_KILL_AFTER_BATCHES=40 "$DN" train "${train[@]}" --data "$tmp/small.csv" --test-data "$tmp/test.csv" \
    -o "$tmp/r.dnm" >/dev/null 2>&1
expect 0 "--resume of a CSV run" "after epoch 2 of 3" -- "$DN" train --resume "$tmp/r.dnm.ckpt" -o "$tmp/r.dnm"
cmp -s "$tmp/r.dnm" "$tmp/csv.dnm" && pass "gives the uninterrupted run's model" || fail "resumed CSV model differs"

finish data_formats
