#!/usr/bin/env bash
# docs.sh — the links in docs/*.md point at something real.
#
# For every relative Markdown link [text](target) outside fenced code blocks:
#   - the target file or folder exists (resolved from the page's folder);
#   - a line anchor, [name](../src/file.c#L52) or #L52-L60, points at a line
#     of that file that contains `name` as a whole word (backticks and a
#     trailing "()" around the name are ignored). The pages name the function
#     they link to, so an anchor that drifted after an edit of the source
#     fails here with the line where the name is defined now.
# Web links (http:, https:, mailto:) and anchors within a page are not checked.
#
#   bash tests/docs.sh          check; exit 0 when every link holds, 1 otherwise
#   bash tests/docs.sh --fix    also rewrite each drifted anchor to the line where
#                               its function is defined (when exactly one is found)
set -u
cd "$(dirname "$0")/.." || exit 1
fix=0
[ "${1:-}" = --fix ] && fix=1

fails=0 files=0 anchors=0 fixed=0

# The line of a C function's definition: a line starting in column 0 that
# contains NAME( and reaches "{" before ";". Prints nothing unless exactly
# one line qualifies.
definition_line() {
    awk -v name="$2" '
        function is_ident(ch) { return ch ~ /[A-Za-z0-9_]/ }
        pending && /[{;]/ {
            if (index($0, "{") && (!index($0, ";") || index($0, "{") < index($0, ";"))) hits[++n] = pending
            pending = 0
            next
        }
        /^[A-Za-z_]/ {
            i = index($0, name "(")
            if (i == 0 || (i > 1 && is_ident(substr($0, i - 1, 1)))) next
            rest = substr($0, i)
            b = index(rest, "{"); s = index(rest, ";")
            if (b && (!s || b < s)) hits[++n] = NR
            else if (!s) pending = NR
        }
        END { if (n == 1) print hits[1] }' "$1"
}

# Prints "LINE<TAB>TEXT<TAB>TARGET" for every inline link of a page.
links_of() {
    awk '
        /^[ \t]*(```|~~~)/ { fence = !fence; next }
        fence { next }
        {
            s = $0
            while (match(s, /\[[^]]*\]\([^) \t]+\)/)) {
                m = substr(s, RSTART, RLENGTH)
                s = substr(s, RSTART + RLENGTH)
                k = index(m, "](")
                printf "%d\t%s\t%s\n", NR, substr(m, 2, k - 2), substr(m, k + 2, length(m) - k - 2)
            }
        }' "$1"
}

fail() {
    echo "FAIL $1"
    fails=$((fails + 1))
}

for doc in docs/*.md; do
    [ -f "$doc" ] || continue
    files=$((files + 1))
    dir=$(dirname "$doc")
    while IFS=$'\t' read -r lineno text target; do
        case "$target" in
        http://* | https://* | mailto:* | \#*) continue ;;
        esac
        where="$doc:$lineno: [$text]($target)"
        path=${target%%#*}
        anchor=
        [ "$path" != "$target" ] && anchor=${target#*#}
        file="$dir/$path"
        shown=$(realpath -m --relative-to=. "$file" 2>/dev/null || echo "$file")
        if [ ! -e "$file" ]; then
            fail "$where: $shown does not exist"
            continue
        fi
        [[ "$anchor" =~ ^L([0-9]+)(-L[0-9]+)?$ ]] || continue
        anchors=$((anchors + 1))
        nn=${BASH_REMATCH[1]}
        name=${text//\`/}
        name=${name%()}
        if ! [[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
            fail "$where: a line anchor's link text must be the name it points at, not '$text'"
            continue
        fi
        if [ ! -f "$file" ]; then
            fail "$where: $shown is not a file"
            continue
        fi
        line=$(sed -n "${nn}p" "$file")
        if printf '%s\n' "$line" | grep -qw -- "$name"; then
            continue
        fi
        def=$(definition_line "$file" "$name")
        if [ "$nn" -gt "$(wc -l <"$file")" ]; then
            msg="$where: $shown has no line $nn"
        else
            msg="$where: line $nn of $shown does not contain '$name' (it reads: '$line')"
        fi
        if [ -n "$def" ]; then
            msg="$msg; $name is defined at line $def"
            if [ $fix = 1 ]; then
                sed -i "${lineno}s|]($target)|](${path}#L${def})|" "$doc"
                fixed=$((fixed + 1))
                msg="$msg (fixed)"
            fi
        fi
        fail "$msg"
    done < <(links_of "$doc")
done

echo "$files pages, $anchors line anchors checked"
if [ "$files" -eq 0 ] || [ "$anchors" -eq 0 ]; then
    echo "FAIL no docs pages or no line anchors found: nothing was checked"
    exit 1
fi
if [ $fails -gt 0 ]; then
    [ $fix = 1 ] && echo "$fixed anchor(s) rewritten; run again to check"
    echo "FAIL $fails broken link(s) in docs/"
    exit 1
fi
echo "ok   every link in docs/ points at a file, every line anchor at its name"
