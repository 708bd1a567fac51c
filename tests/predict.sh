#!/usr/bin/env bash
# predict.sh — end-to-end tests of `digitnet predict`, `convert` and `show`:
#   - predict on PNG, JPEG, PGM and PPM files, folders (-r), Kaggle CSV
#     files, standard input; --json lines parse and carry 10 probabilities;
#     --submission, --save-normalized, --show, --raw/--invert;
#   - per-file errors (missing, truncated and corrupt PNG, blank image,
#     unsupported format, 60-megapixel PGM header) while the other files are
#     still predicted, exit 1; usage errors exit 2;
#   - convert round trips folder -> IDX (gzip) -> CSV -> folder with identical
#     files, --normalize, refusals;
#   - show writes valid PNG (signature, size) and SVG (parses as XML) files.
# Fixtures come from MNIST (through `digitnet convert`), python3 (PGM, CSV)
# and `test_userimages_slow --write` (user-like JPEG/PNG/PPM photos, canvas
# drawings). Exits 77 (skip) without python3, the model or MNIST.
set -u
BUILD=${BUILD:-build}
DN=${DIGITNET:-$BUILD/digitnet}
MODEL=models/mnist-mlp.dnm
mnist=${DN_MNIST_DIR:-data/mnist}
command -v python3 >/dev/null || { echo "skip: python3 is not installed"; exit 77; }
[ -x "$DN" ] || { echo "skip: $DN is not built"; exit 77; }
[ -f "$MODEL" ] || { echo "skip: $MODEL is missing"; exit 77; }
[ -f "$mnist/t10k-images-idx3-ubyte" ] || [ -f "$mnist/t10k-images-idx3-ubyte.gz" ] ||
    { echo "skip: MNIST is not in $mnist"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
pass() { echo "ok   $1"; }
fail() { echo "FAIL $1"; fails=$((fails + 1)); }
check() { # check DESCRIPTION COMMAND...: passes when the command succeeds
    local desc=$1; shift
    if "$@"; then pass "$desc"; else fail "$desc"; fi
}
# expect CODE DESCRIPTION PATTERN -- COMMAND...: exit code and an output match
expect() {
    local code=$1 desc=$2 pat=$3; shift 4
    local out rc
    out=$("$@" 2>&1); rc=$?
    if [ "$rc" -ne "$code" ]; then fail "$desc: exit $rc, expected $code: $out"; return; fi
    if [ -n "$pat" ] && ! grep -qiE -- "$pat" <<<"$out"; then fail "$desc: output lacks /$pat/: $out"; return; fi
    pass "$desc"
}
# png_size FILE: prints "WxH" when FILE is a PNG, else fails
png_size() {
    python3 -c '
import struct, sys
d = open(sys.argv[1], "rb").read()
assert d[:8] == b"\x89PNG\r\n\x1a\n" and d[12:16] == b"IHDR", "not a PNG"
w, h = struct.unpack(">II", d[16:24])
print(f"{w}x{h}")' "$1"
}
P() { "$DN" predict "$MODEL" "$@"; }

# ---------------------------------------------------------------- fixtures
expect 0 "convert MNIST test digits to a folder" "converted 40 labeled" -- \
    $DN convert "$mnist" --split test -n 40 "$tmp/digits"
expect 0 "convert the folder to a labeled CSV" "converted 40 labeled" -- \
    $DN convert "$tmp/digits" "$tmp/train.csv"
python3 - "$tmp" <<'EOF' || { echo "FAIL fixtures"; exit 1; }
import sys
out = sys.argv[1]
# the first 7 of the folder (digits/7/00001.png, also the first 7 row of the
# CSV) enlarged 4x, dark on light, as PGM and PPM; 28x28 dark on light as PGM
row = next(r for r in open(f"{out}/train.csv").read().splitlines()[1:] if r.startswith("7,"))
px = [int(v) for v in row.split(",")[1:]]
rows = [px[y * 28:(y + 1) * 28] for y in range(28)]
big = [bytes(255 - v for v in r for _ in range(4)) for r in rows for _ in range(4)]
open(f"{out}/seven.pgm", "wb").write(b"P5\n112 112\n255\n" + b"".join(big))
open(f"{out}/seven.ppm", "wb").write(b"P6\n112 112\n255\n" + b"".join(bytes(v for v in r for _ in range(3)) for r in big))
open(f"{out}/seven28.pgm", "wb").write(b"P5\n28 28\n255\n" + b"".join(bytes(255 - v for v in r) for r in rows))
# a 7 and a 3 laid over each other, for answers that are not near-certain
three = [int(v) for v in next(r for r in open(f"{out}/train.csv").read().splitlines()[1:]
                              if r.startswith("3,")).split(",")[1:]]
both = [max(a, b) for a, b in zip(px, three)]
open(f"{out}/seven-three.pgm", "wb").write(b"P5\n28 28\n255\n" + bytes(255 - v for v in both))
good = open(f"{out}/digits/7/00001.png", "rb").read()
# failures
open(f"{out}/truncated.png", "wb").write(good[:len(good) // 2])
open(f"{out}/corrupt.png", "wb").write(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)
open(f"{out}/blank.pgm", "wb").write(b"P5\n100 100\n255\n" + b"\xff" * 10000)
open(f"{out}/notes.gif", "wb").write(b"GIF89a this is not supported")
open(f"{out}/huge.pgm", "wb").write(b"P5\n8000 7500\n255\n" + b"\x00" * 1000)
EOF
have_photos=0
if [ -x "$BUILD/tests/test_userimages_slow" ]; then
    mkdir -p "$tmp/photos" && "$BUILD/tests/test_userimages_slow" --write "$tmp/photos" >/dev/null &&
        have_photos=1
fi

# ---------------------------------------------------------------- predict: files
seven=$(ls "$tmp"/digits/7/*.png | head -n1)
expect 0 "predict a PNG" "^$seven: 7 \([0-9.]+%\)  top 3: 7 " -- P "$seven"
expect 0 "predict a PGM (enlarged, dark on light)" ": 7 \(" -- P "$tmp/seven.pgm"
expect 0 "predict a PPM" ": 7 \(" -- P "$tmp/seven.ppm"
expect 0 "MODEL is optional" ": 7 \(" -- $DN predict "$seven"
# two models: the mean of their probabilities
if [ -f models/mnist-cnn.dnm ]; then
    python3 - "$DN" "$MODEL" models/mnist-cnn.dnm "$tmp/seven-three.pgm" <<'EOF' && pass "two models answer with the mean of their probabilities" || fail "ensemble predict"
import json, subprocess, sys
dn, a, b, img = sys.argv[1:]
run = lambda *m: json.loads(subprocess.run([dn, "predict", *m, img, "--json"], check=True,
                                           capture_output=True, text=True).stdout)
pa, pb, pm = run(a)["probabilities"], run(b)["probabilities"], run(a, b)["probabilities"]
assert max(abs(x - y) for x, y in zip(pa, pb)) > 1e-3, "the two models agree too closely to tell"
assert all(abs(m - (x + y) / 2) < 1e-5 for x, y, m in zip(pa, pb, pm)), (pa, pb, pm)
EOF
fi
expect 2 "predict with too many models" "at most 8 models" -- $DN predict "$MODEL" "$MODEL" "$MODEL" \
    "$MODEL" "$MODEL" "$MODEL" "$MODEL" "$MODEL" "$MODEL" "$seven"
expect 0 "predict standard input" "^-: 7 \(" -- sh -c "'$DN' predict '$MODEL' - <'$seven'"
if [ $have_photos = 1 ]; then
    out=$(P "$tmp"/photos/*)
    right=$(sed -n 's/^.*\/[0-9]*-\([0-9]\)\.[a-z]*: \([0-9]\) .*/\1 \2/p' <<<"$out" | awk '$1 == $2' | wc -l)
    n=$(ls "$tmp"/photos | wc -l)
    [ "$right" -ge $((n - 1)) ] && pass "user-like JPEG/PNG/PPM photos and drawings: $right/$n right" ||
        fail "user-like photos: only $right/$n right: $out"
    grep -q '\.jpg: ' <<<"$out" && pass "JPEG files are read" || fail "no JPEG in: $out"
else
    echo "note test_userimages_slow is not built; JPEG fixtures skipped"
fi

# ---------------------------------------------------------------- predict: folders
out=$(P -r "$tmp/digits"); rc=$?
lines=$(grep -c ': [0-9] (' <<<"$out")
[ $rc -eq 0 ] && [ "$lines" -eq 40 ] && pass "folder -r: 40 predictions" || fail "folder -r: exit $rc, $lines lines"
right=$(sed -n 's/^.*\/\([0-9]\)\/[0-9]*\.png: \([0-9]\) .*/\1 \2/p' <<<"$out" | awk '$1 == $2' | wc -l)
[ "$right" -ge 38 ] && pass "folder -r: $right/40 right" || fail "folder -r: only $right/40 right"
sorted=$(sed 's/: .*//' <<<"$out")
[ "$sorted" = "$(sort <<<"$sorted")" ] && pass "folder entries are sorted" || fail "folder order: $sorted"
expect 1 "folder without -r has no images" "no images in this folder \(use -r" -- P "$tmp/digits"
expect 0 "one label folder" "/0/00001.png: 0 \(" -- P "$tmp/digits/0"

# ---------------------------------------------------------------- predict: --json
P --json -r "$tmp/digits" "$tmp/missing.png" >"$tmp/pred.json" 2>/dev/null
check "--json: every line is an object with file, label and 10 probabilities" python3 -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 41, len(lines)
for l in lines[:40]:
    d = json.loads(l)
    assert isinstance(d["file"], str) and 0 <= d["label"] <= 9
    p = d["probabilities"]
    assert len(p) == 10 and abs(sum(p) - 1) < 1e-3 and p[d["label"]] == max(p)
    assert [t["label"] for t in d["top3"]][0] == d["label"]
    assert d["unsure"] is (d["probability"] < 0.8), d
    r = d["runner_up"]["label"]
    assert r != d["label"] and p[r] == max(v for k, v in enumerate(p) if k != d["label"]), d
e = json.loads(lines[40])
assert "missing.png" in e["file"] and "cannot open" in e["error"], e' "$tmp/pred.json"
expect 0 "--json --show keeps stdout JSON (drawing on stderr)" "" -- \
    sh -c "'$DN' predict '$MODEL' --json --show '$seven' 2>/dev/null | python3 -c 'import json,sys; json.loads(sys.stdin.read())'"

# ---------------------------------------------------------------- predict: CSV, submission
python3 -c '
import sys
rows = open(sys.argv[1]).read().splitlines()
hdr = rows[0].split(",")[1:]
open(sys.argv[2], "w").write("\n".join([",".join(hdr)] + [r.split(",", 1)[1] for r in rows[1:]]) + "\n")
' "$tmp/train.csv" "$tmp/test.csv"
expect 0 "predict a labeled CSV" "train.csv:40: [0-9] \(" -- P "$tmp/train.csv"
expect 0 "predict a Kaggle test.csv with --submission" "test.csv:1: 0 \(" -- \
    P "$tmp/test.csv" --submission "$tmp/sub.csv"
check "submission is ImageId,Label with 40 rows" python3 -c '
import sys
rows = open(sys.argv[1]).read().splitlines()
assert rows[0] == "ImageId,Label" and len(rows) == 41, rows[:3]
for i, r in enumerate(rows[1:], 1):
    a, b = r.split(","); assert int(a) == i and 0 <= int(b) <= 9' "$tmp/sub.csv"
P --json "$tmp/test.csv" >"$tmp/csv.json"
check "--json rows carry their index" python3 -c '
import json, sys
ls = [json.loads(l) for l in open(sys.argv[1])]
assert [d["index"] for d in ls] == list(range(1, 41))
sub = open(sys.argv[2]).read().splitlines()[1:]
assert [int(r.split(",")[1]) for r in sub] == [d["label"] for d in ls]' "$tmp/csv.json" "$tmp/sub.csv"
expect 1 "submission refused when an input fails" "not written" -- \
    P "$tmp/test.csv" "$tmp/blank.pgm" --submission "$tmp/sub2.csv"
[ ! -e "$tmp/sub2.csv" ] && pass "no partial submission file" || fail "sub2.csv was written"

# ---------------------------------------------------------------- predict: --save-normalized, --show, --raw
expect 0 "--save-normalized" "" -- P --save-normalized "$tmp/norm" "$tmp/seven.pgm" "$seven"
[ "$(ls "$tmp/norm" | wc -l)" -eq 2 ] && [ "$(png_size "$tmp/norm/00001-seven.png")" = 28x28 ] &&
    pass "--save-normalized writes 28x28 PNGs" || fail "--save-normalized: $(ls "$tmp/norm")"
out=$(P --show --color never "$tmp/seven.pgm")
[ "$(wc -l <<<"$out")" -eq 15 ] && grep -q '[▀▄█]' <<<"$out" && pass "--show draws 14 half-block rows" ||
    fail "--show: $out"
out=$(P --show --color always "$seven")
grep -q $'\e\[38;5;' <<<"$out" && pass "--show --color always uses 256-colour grays" || fail "--show colour"
expect 0 "--raw on a 28x28 MNIST PNG" ": 7 \(" -- P --raw "$seven"
expect 0 "--raw --invert on dark-on-light 28x28" ": 7 \(" -- P --raw --invert "$tmp/seven28.pgm"
expect 1 "--raw refuses other sizes" "112x112.*--raw needs 28x28" -- P --raw "$tmp/seven.pgm"

# ---------------------------------------------------------------- predict: per-file errors
out=$(P "$tmp/missing.png" "$tmp/truncated.png" "$tmp/corrupt.png" "$tmp/blank.pgm" \
    "$tmp/notes.gif" "$tmp/huge.pgm" "$seven" 2>"$tmp/err"); rc=$?
[ $rc -eq 1 ] && pass "errors exit 1 at the end" || fail "errors: exit $rc"
grep -q ": 7 (" <<<"$out" && pass "the good file is still predicted" || fail "good file: $out"
for pat in "missing.png: cannot open" "truncated.png: .*(truncat|PNG)" "corrupt.png: PNG" \
    "blank.pgm: .*no ink" "notes.gif: unsupported image format" "huge.pgm: .*megapixels" \
    "6 of 7 input"; do
    grep -qE "$pat" "$tmp/err" && pass "error message /$pat/" || fail "no /$pat/ in: $(cat "$tmp/err")"
done
expect 1 "empty standard input" "standard input: image data is empty" -- sh -c "'$DN' predict '$MODEL' - </dev/null"
expect 1 "missing model" "cannot open" -- $DN predict "$tmp/none.dnm" "$seven"

# ---------------------------------------------------------------- usage errors
expect 2 "predict without PATH" "no image given" -- $DN predict
expect 2 "predict with only a model" "no image given" -- $DN predict "$MODEL"
expect 2 "predict unknown option" "unknown option .--frob." -- $DN predict --frob "$seven"
expect 2 "predict bad --color" "--color" -- $DN predict --color sometimes "$seven"
expect 2 "convert without DST" "expected SRC and DST" -- $DN convert "$tmp/digits"
expect 2 "convert unknown format" "cannot tell the format" -- $DN convert "$tmp/notes.gif" "$tmp/x.csv"
expect 2 "convert bad --to" "--to: 'png'" -- $DN convert "$tmp/digits" "$tmp/x" --to png
expect 2 "convert --normalize on CSV" "image folders only" -- $DN convert "$tmp/train.csv" "$tmp/y" --normalize
expect 2 "show bad --scale" "--scale" -- $DN show --scale 0
expect 2 "show extra argument" "unexpected argument" -- $DN show "$MODEL" "$mnist" extra
for c in predict convert show; do expect 0 "$c --help" "usage: digitnet $c" -- $DN $c --help; done

# ---------------------------------------------------------------- convert
expect 0 "folder -> gzipped IDX" "-> .*rt-images-idx3-ubyte.gz \(idx\)" -- \
    $DN convert "$tmp/digits" "$tmp/rt-images-idx3-ubyte.gz"
[ "$(head -c 2 "$tmp/rt-labels-idx1-ubyte.gz" | od -An -tx1 | tr -d ' ')" = 1f8b ] &&
    pass "labels file written alongside, gzipped" || fail "labels file: $(ls "$tmp")"
expect 0 "IDX -> CSV" "" -- $DN convert "$tmp/rt-images-idx3-ubyte.gz" "$tmp/rt.csv"
expect 0 "CSV -> folder" "" -- $DN convert "$tmp/rt.csv" "$tmp/back"
diff -r "$tmp/digits" "$tmp/back" >/dev/null && pass "folder -> IDX -> CSV -> folder gives identical files" ||
    fail "round trip differs"
cmp -s "$tmp/rt.csv" "$tmp/train.csv" && pass "CSV from IDX equals CSV from folder" || fail "CSV differs"
expect 0 "folder -> IDX directory with --split" "" -- $DN convert "$tmp/digits" "$tmp/idxdir" --split test --to idx
[ -f "$tmp/idxdir/t10k-images-idx3-ubyte" ] && [ -f "$tmp/idxdir/t10k-labels-idx1-ubyte" ] &&
    pass "MNIST names in the IDX directory" || fail "idxdir: $(ls "$tmp/idxdir")"
expect 0 "unlabeled CSV -> flat folder" "40 unlabeled" -- $DN convert "$tmp/test.csv" "$tmp/flat"
[ -f "$tmp/flat/00040.png" ] && pass "flat folder numbered from 00001" || fail "flat: $(ls "$tmp/flat" | head -3)"
expect 1 "existing destination folder" "already exists" -- $DN convert "$tmp/rt.csv" "$tmp/back"
mkdir -p "$tmp/user/7" "$tmp/user/3"
cp "$tmp/seven.pgm" "$tmp/seven.ppm" "$tmp/user/7/"
[ $have_photos = 1 ] && cp "$tmp/photos/09-3.png" "$tmp/user/3/"
expect 1 "folder of big images needs --normalize" "use --normalize" -- $DN convert "$tmp/user" "$tmp/u.csv"
expect 0 "--normalize reads any size" "labeled 28x28" -- $DN convert "$tmp/user" "$tmp/u.csv" --normalize
out=$(P "$tmp/u.csv" | cut -d' ' -f2 | tr -d '\n')
[ "$out" = "$([ $have_photos = 1 ] && echo 3)77" ] && pass "normalised folder digits are recognised" ||
    fail "normalised folder: $out"
ls "$tmp"/*.tmp* "$tmp"/*/*.tmp* >/dev/null 2>&1 && fail "temporary files left" || pass "no temporary files left"

# ---------------------------------------------------------------- show
out=$($DN show "$tmp/digits" -n 3 --color never)
[ "$(grep -c '^#' <<<"$out")" -ge 1 ] && grep -q '█' <<<"$out" && pass "show draws digits in the terminal" ||
    fail "show terminal: $out"
expect 0 "show MODEL predicts in the terminal" "#0: 7, predicted 7" -- $DN show "$MODEL" -n 1 --color never
expect 0 "show --grid" "wrote .*grid.png \(648x" -- $DN show "$mnist" --grid "$tmp/grid.png"
[ "$(png_size "$tmp/grid.png" 2>/dev/null)" = 648x884 ] && pass "grid PNG has the size printed" || fail "grid.png"
expect 0 "show --errors --confusion --curves" "curves.svg \(20 epochs\)" -- \
    $DN show "$MODEL" --errors "$tmp/errors.png" --confusion "$tmp/conf.png" --curves "$tmp/curves.svg"
png_size "$tmp/errors.png" >/dev/null && pass "errors grid is a PNG" || fail "errors.png"
[ "$(png_size "$tmp/conf.png" 2>/dev/null)" = 570x596 ] && pass "confusion heatmap is a 570x596 PNG" || fail "conf.png"
check "curves SVG parses as XML with two plotted series" python3 -c '
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag.endswith("svg")
assert len(root.findall("{http://www.w3.org/2000/svg}polyline")) == 3' "$tmp/curves.svg"
expect 0 "show a CSV grid with predictions" "wrote" -- $DN show "$MODEL" "$tmp/test.csv" --grid "$tmp/g2.png" --scale 1
expect 1 "--errors needs labels" "has no labels" -- $DN show "$MODEL" "$tmp/test.csv" --errors "$tmp/e.png"
expect 1 "--start past the end" "holds 40 images" -- $DN show "$tmp/train.csv" --start 40

echo "predict: $fails failure(s)"
[ $fails -eq 0 ]
