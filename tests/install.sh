#!/usr/bin/env bash
# install.sh — digitnet installs like a real tool. `make install` into a
# temporary prefix (the plain build, whatever build this suite runs), then,
# from another working directory:
#   - PREFIX/bin/digitnet: info, test, predict and serve without a MODEL
#     find the installed models;
#   - the README's C example, extracted from README.md, builds with
#     `pkg-config --cflags --libs digitnet` against the installed library
#     and runs, with an rpath and with LD_LIBRARY_PATH;
#   - find_package(digitnet) from CMake builds and runs the same program;
#   - digitnet(1) renders with `man -l` without warnings and names every
#     option of every subcommand's --help; the bash completion completes
#     subcommands and options;
#   - `make uninstall` removes every file it installed.
set -u
repo=$(pwd)
tmp=$(mktemp -d)
srv=
trap '[ -n "$srv" ] && kill $srv 2>/dev/null; rm -rf "$tmp"' EXIT
. "$(dirname "$0")/common.bash"
for tool in cc pkg-config cmake man curl; do
    command -v $tool >/dev/null || { echo "FAIL $tool is not installed (scripts/install-deps --tests)"; exit 1; }
done
P=$tmp/prefix
# the plain build in build/ (run-tests exports BUILD, which may be build-san)
make -s --no-print-directory install BUILD=build SAN=0 PREFIX="$P" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log"; echo "FAIL make install"; exit 1; }
pass "make install PREFIX=$P"
DN=$P/bin/digitnet
work=$tmp/elsewhere
mkdir -p "$work"
cd /

# --- the command from anywhere
expect 0 "installed info from / finds the shipped model" "share/digitnet/models/mnist-cnn.dnm" -- "$DN" info
expect 0 "installed test from / (MNIST by path)" "accuracy  99\\." -- "$DN" test --data "$repo/data/mnist"
python3 - "$work/seven.pgm" "$repo/data/mnist/t10k-images-idx3-ubyte" <<'PY'
import sys
out, idx = sys.argv[1:]
d = open(idx, "rb").read()
px = d[16:16 + 784]  # the first test digit, a 7: dark ink on white as a user draws it
open(out, "wb").write(b"P5 28 28 255\n" + bytes(255 - v for v in px))
PY
expect 0 "installed predict from / reads the 7" "seven.pgm: 7 " -- "$DN" predict "$work/seven.pgm"
"$DN" serve --port 0 >"$tmp/serve.out" 2>&1 &
srv=$!
url=
for _ in $(seq 100); do
    url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$tmp/serve.out" | head -n1)
    [ -n "$url" ] && break
    kill -0 $srv 2>/dev/null || break
    sleep 0.1
done
if [ -n "$url" ] && curl -sf "${url}api/model" | grep -q '"arch":"conv' && curl -sf "$url" | grep -qi "<html"; then
    pass "installed serve from / serves the page and the shipped CNN"
else fail "installed serve: $(cat "$tmp/serve.out")"; fi
kill -TERM $srv && wait $srv && pass "serve stops on SIGTERM" || fail "serve did not stop cleanly"
srv=

# --- the README's C example against the installed library
awk '/^```c$/ { on = 1; next } on && /^```$/ { exit } on' "$repo/README.md" >"$work/app.c"
grep -q "int main" "$work/app.c" && pass "README.md has a C program" || fail "no C program in README.md"
export PKG_CONFIG_PATH=$P/lib/pkgconfig
flags=$(pkg-config --cflags --libs digitnet) && pass "pkg-config knows digitnet ($flags)" || fail "pkg-config"
expect 0 "the example builds with pkg-config" "" -- \
    cc -std=c11 -Wall -Wextra -Werror "$work/app.c" $flags -Wl,-rpath,"$(pkg-config --variable=libdir digitnet)" -o "$work/app"
expect 0 "it runs from another directory (rpath)" "seven.pgm: 7 \\(" -- \
    "$work/app" "$P/share/digitnet/models/mnist-cnn.dnm" "$work/seven.pgm"
ldd "$work/app" | grep -q "libdigitnet.so.0 => $P/lib/libdigitnet.so.0" &&
    pass "it loads the installed libdigitnet.so.0" || fail "ldd: $(ldd "$work/app" | grep digitnet)"
expect 0 "without an rpath it builds too" "" -- cc -std=c11 "$work/app.c" $flags -o "$work/app2"
expect 0 "and runs with LD_LIBRARY_PATH" "seven.pgm: 7 \\(" -- \
    env LD_LIBRARY_PATH="$P/lib" "$work/app2" "$P/share/digitnet/models/mnist-mlp.dnm" "$work/seven.pgm"
expect 1 "the example reports a bad model file" "cannot open" -- "$work/app" "$work/none.dnm" "$work/seven.pgm"
# the static library too
expect 0 "static linking with pkg-config --static" "" -- \
    cc -std=c11 "$work/app.c" $(pkg-config --cflags digitnet) "$P/lib/libdigitnet.a" \
    $(pkg-config --static --libs digitnet | sed 's/-ldigitnet//') -o "$work/app-static"
expect 0 "the static program runs" "seven.pgm: 7 \\(" -- "$work/app-static" "$P/share/digitnet/models/mnist-cnn.dnm" "$work/seven.pgm"

# --- CMake: find_package(digitnet)
mkdir -p "$work/cm"
cp "$work/app.c" "$work/cm/"
cat >"$work/cm/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.13)
project(app C)
find_package(digitnet 0.1 REQUIRED)
add_executable(app app.c)
target_link_libraries(app PRIVATE digitnet::digitnet)
CM
expect 0 "cmake finds digitnet with find_package" "" -- \
    cmake -S "$work/cm" -B "$work/cm/build" -DCMAKE_PREFIX_PATH="$P"
expect 0 "and builds the example" "" -- cmake --build "$work/cm/build"
expect 0 "the CMake-built example runs" "seven.pgm: 7 \\(" -- \
    "$work/cm/build/app" "$P/share/digitnet/models/mnist-cnn.dnm" "$work/seven.pgm"
sed -i 's/find_package(digitnet 0.1 REQUIRED)/find_package(digitnet 9.0 REQUIRED)/' "$work/cm/CMakeLists.txt"
expect 1 "find_package refuses a version it is not" "" -- cmake -S "$work/cm" -B "$work/cm/build9" -DCMAKE_PREFIX_PATH="$P"

# --- the manual page and the completion
man_page=$P/share/man/man1/digitnet.1
[ -f "$man_page" ] && pass "digitnet.1 installed" || fail "no $man_page"
warnings=$(LC_ALL=C MANWIDTH=80 man --warnings -l "$man_page" 2>&1 >"$tmp/man.txt")
[ -z "$warnings" ] && [ -s "$tmp/man.txt" ] && pass "man -l renders it without warnings" || fail "man warnings: $warnings"
missing=()
for c in train test info calibrate predict convert show serve; do
    grep -q "^   $c\$\|^  $c\$" "$tmp/man.txt" || missing+=("section $c")
    for o in $("$DN" "$c" --help | awk '/^ +-/ { sub(/^ +/, ""); split($0, a, /  +/); print a[1] }' |
        grep -oE -- '--?[a-zA-Z][a-zA-Z-]*' | sort -u); do
        grep -qE -- "(^|[^a-zA-Z-])$o([^a-zA-Z-]|\$)" "$tmp/man.txt" || missing+=("$c $o")
    done
done
[ ${#missing[@]} -eq 0 ] && pass "the manual names every subcommand and every option of every --help" ||
    fail "not in the manual: ${missing[*]}"
comp=$P/share/bash-completion/completions/digitnet
got=$(bash -c '. "$1"; COMP_WORDS=("$2" tr); COMP_CWORD=1; _digitnet; echo "${COMPREPLY[*]}"
    COMP_WORDS=("$2" train --ep); COMP_CWORD=2; _digitnet; echo "${COMPREPLY[*]}"
    COMP_WORDS=("$2" train --optimizer ad); COMP_CWORD=3; _digitnet; echo "${COMPREPLY[*]}"
    COMP_WORDS=("$2" serve --w); COMP_CWORD=2; _digitnet; echo "${COMPREPLY[*]}"
    COMP_WORDS=("$2" help sh); COMP_CWORD=2; _digitnet; echo "${COMPREPLY[*]}"' _ "$comp" "$DN")
[ "$got" = $'train\n--epochs\nadam\n--workers\nshow' ] && pass "bash completion: subcommands, options, values" ||
    fail "completion gave: $got"

# --- uninstall
cd "$repo"
make -s --no-print-directory uninstall BUILD=build SAN=0 PREFIX="$P" >/dev/null 2>&1
left=$(find "$P" -type f -o -type l)
[ -z "$left" ] && pass "make uninstall removes everything it installed" || fail "left after uninstall: $left"

finish install
