#!/bin/sh
# Prints the sha256 a SHA256SUMS file gives for NAME, as sha256sum writes it in text mode
# ("<hash>  <name>") or binary mode ("<hash> *<name>"), matching the name exactly. Fails unless
# there is exactly one such entry and it is 64 lowercase hexadecimal digits.
# Usage: sha256sums-entry NAME SHA256SUMS
set -eu
name=$1
sums=$2
entries=$(awk -v want="$name" 'NF == 2 { file = $2; sub(/^\*/, "", file); if (file == want) print $1 }' "$sums")
count=$(printf '%s' "$entries" | grep -c . || true)
if [ "$count" -ne 1 ]; then
    echo "$sums has $count entries for $name, not one" >&2
    exit 1
fi
case "$entries" in
    *[!0-9a-f]*) echo "$sums gives $name the sha256 $entries, not 64 hexadecimal digits" >&2; exit 1 ;;
esac
if [ ${#entries} -ne 64 ]; then
    echo "$sums gives $name the sha256 $entries, not 64 hexadecimal digits" >&2
    exit 1
fi
echo "$entries"
