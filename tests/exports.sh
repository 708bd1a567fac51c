#!/usr/bin/env bash
# exports.sh — libdigitnet.so exports exactly the API of include/digitnet.h:
#   - every function the shared library exports is declared DN_API in the
#     header, and every DN_API function is exported (nothing internal such
#     as dn_json_parse, dn_strbuf_*, dn_gemm_* or dn_http_* leaks out);
#   - it exports no data symbols;
#   - every public declaration has its own comment, just above it (the
#     header is the manual).
set -u
BUILD=${BUILD:-build}
lib=$BUILD/libdigitnet.so
[ -f "$lib" ] || { echo "FAIL $lib is not built"; exit 1; }
command -v nm >/dev/null || { echo "FAIL nm (binutils) is not installed"; exit 1; }
exec python3 - "$lib" include/digitnet.h <<'PY'
import re, subprocess, sys
lib, header = sys.argv[1], sys.argv[2]
fails = 0
def check(ok, msg):
    global fails
    print(("ok   " if ok else "FAIL ") + msg)
    fails += not ok

syms = subprocess.run(["nm", "-D", "--defined-only", lib], capture_output=True, text=True,
                      check=True).stdout.split("\n")
funcs = {l.split()[2] for l in syms if len(l.split()) == 3 and l.split()[1] in "Tt"}
data = [l for l in syms if len(l.split()) == 3 and l.split()[1] not in "Tt"]
text = open(header).read()
# every DN_API declaration, however it is wrapped, up to its first '('
declared = set()
undocumented = []
for m in re.finditer(r"\bDN_API\s+[^;(]*?\b(dn_[a-z0-9_]+)\s*\(", text):
    if text[:m.start()].rstrip().endswith("#define"):
        continue
    declared.add(m.group(1))
    # just above it: the end of its own comment
    if not text[:m.start()].rstrip().endswith("*/"):
        undocumented.append(m.group(1))

check(len(declared) > 50, f"{len(declared)} DN_API functions in {header}")
check(len(funcs) > 50, f"{len(funcs)} functions exported by {lib}")
extra = sorted(funcs - declared)
missing = sorted(declared - funcs)
check(not extra, "every exported function is declared in the header" +
      (f": not declared: {' '.join(extra)}" if extra else ""))
check(not missing, "every declared function is exported" +
      (f": not exported: {' '.join(missing)}" if missing else ""))
check(not data, "no data symbols exported" + (f": {data}" if data else ""))
for internal in ("dn_json_parse", "dn_strbuf_puts", "dn_gemm", "dn_fail"):
    check(not any(f.startswith(internal) for f in funcs), f"{internal}* is not exported")
check(not undocumented, "every public function has its comment" +
      (f": none for {' '.join(undocumented)}" if undocumented else ""))
print(f"exports: {fails} failure(s)")
sys.exit(1 if fails else 0)
PY
