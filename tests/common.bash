# common.bash — helpers for the shell tests, sourced (not run) after $tmp is set:
#   pass MSG / fail MSG      report a check; fail counts into $fails
#   expect CODE DESC PATTERN -- COMMAND...
#                            runs COMMAND (stdout and stderr into $tmp/out),
#                            checks its exit code and, unless PATTERN is
#                            empty, an extended-regex match in its output;
#                            returns 1 when either does not hold
#   finish NAME              prints "NAME: N failure(s)" and exits 0 or 1
#   need_browser             exits 77 (skip) unless Debian's chromium, node and
#                            playwright-core (npm ci) are there
fails=0
pass() { echo "ok   $1"; }
fail() { echo "FAIL $1"; fails=$((fails + 1)); }
expect() {
    local code=$1 desc=$2 pat=$3 rc
    shift 4
    "$@" >"$tmp/out" 2>&1
    rc=$?
    if [ "$rc" -ne "$code" ]; then fail "$desc: exit $rc, expected $code: $(head -c 2000 "$tmp/out")"; return 1; fi
    if [ -n "$pat" ] && ! grep -qiE -- "$pat" "$tmp/out"; then
        fail "$desc: output lacks /$pat/: $(head -c 2000 "$tmp/out")"
        return 1
    fi
    pass "$desc"
}
finish() {
    echo "$1: $fails failure(s)"
    [ "$fails" -eq 0 ]
    exit
}
need_browser() {
    [ -x /usr/bin/chromium ] || { echo "skip: /usr/bin/chromium is not installed"; exit 77; }
    command -v node >/dev/null || { echo "skip: node is not installed"; exit 77; }
    [ -d node_modules/playwright-core ] || { echo "skip: playwright-core is not installed (npm ci)"; exit 77; }
}
