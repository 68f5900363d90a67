#!/usr/bin/env bash
# scripts/oldest-go.sh: vet and test, with the older supported Go
# ($GO_OLDEST, say go1.25.14, which the go command fetches from the module
# proxy through GOTOOLCHAIN), every module whose go line is no newer than
# the core's: the core, the conformance module its tests run, and any other
# module that its dependencies let build on that Go (b2 today). They are
# built in a workspace of those modules alone, so with their own
# requirements (x/sys at the version the core's go.mod names, not the newer
# one another module of the repository selects), as a user on that Go
# builds them. `make test-oldest-go`; `make test` runs it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
GO=${GO:-go}
: "${GO_OLDEST:?set GO_OLDEST, e.g. go1.25.14}"

golines() { awk '$1 == "go" {print $2}' "$1/go.mod"; }
core_go=$(golines .)
dirs=()
while read -r dir; do
	v=$(golines "$dir")
	if [[ $(printf '%s\n%s\n' "$v" "$core_go" | sort -V | tail -1) == "$core_go" ]]; then
		dirs+=("$dir")
	fi
done < <(GO=$GO scripts/modules.sh list)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
{
	echo "go $core_go"
	echo "use ("
	for dir in "${dirs[@]}"; do
		if [[ $dir == . ]]; then echo "	$root"; else echo "	$root/${dir#./}"; fi
	done
	echo ")"
	# go.work's replaces of these modules' versions, made absolute.
	awk -v root="$root" -v dirs="${dirs[*]}" '
		BEGIN {n = split(dirs, d, " "); for (i = 1; i <= n; i++) want[d[i]] = 1}
		/^replace \(/ {r = 1; next}
		r && /^\)/ {r = 0}
		r && $3 == "=>" && ($4 in want) {
			dir = ($4 == ".") ? root : root "/" substr($4, 3)
			print "replace " $1 " " $2 " => " dir
		}' go.work
} >"$tmp/go.work"

export GOWORK=$tmp/go.work GOTOOLCHAIN=$GO_OLDEST
pkgs=()
for dir in "${dirs[@]}"; do
	pkgs+=("$dir/...")
done
echo "oldest-go: $("$GO" version); modules: ${dirs[*]}" >&2
"$GO" vet "${pkgs[@]}"
"$GO" test -timeout 45m "${pkgs[@]}"
