#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# checkpatch.pl --strict --codespell over the project's sources, as
# `make checkpatch` runs it, skipping the files it already found clean:
#
#   scripts/checkpatch.sh KSRC DICTIONARY FILE...
#
# A file is skipped when the same content at the same path was clean with
# the same checkpatch.pl, its data files, the dictionary and the flags
# (the key of a stamp in $KCM_CACHE/checkpatch). Clean files are stamped
# only when the whole run was clean. Checkpatch's verdict depends on
# nothing else, so a warm make check does not spend a core on it again.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

ksrc=$1 dict=$2
shift 2
flags=(--strict --codespell --codespellfile="$dict" --no-tree --quiet)
cache=$KCM_CACHE/checkpatch
mkdir -p "$cache"
tool=$(cat "$ksrc/scripts/checkpatch.pl" "$ksrc/scripts/spelling.txt" \
	"$ksrc/scripts/const_structs.checkpatch" "$dict" 2>/dev/null | sha256sum | cut -c1-16)

key() { { printf '%s %s %s\n' "$tool" "${flags[*]}" "$1"; cat "$1"; } | sha256sum | cut -c1-32; }

todo=()
for f in "$@"; do
	[ -e "$cache/$(key "$f")" ] || todo+=("$f")
done
if [ "${#todo[@]}" -eq 0 ]; then
	kcm_log "checkpatch: all $# files were clean as they are (stamps in $cache)"
	exit 0
fi
kcm_log "checkpatch: ${#todo[@]} of $# files"
report=$("$ksrc/scripts/checkpatch.pl" "${flags[@]}" -f "${todo[@]}")
rc=$?
[ -n "$report" ] && printf '%s\n' "$report"
if [ "$rc" = 0 ] && [ -z "$report" ]; then
	for f in "${todo[@]}"; do
		touch "$cache/$(key "$f")"
	done
fi
exit "$rc"
