#!/usr/bin/env bash
# scripts/oldest-go.sh: vet and test, with the older supported Go
# ($GO_OLDEST, say go1.25.14, which the go command fetches from the module
# proxy through GOTOOLCHAIN), every module whose go line is no newer than
# the core's: today all of them but gocloud (the Go CDK releases it needs
# say go 1.26). Their tests run as in `make test`, MinIO included (so
# Docker and the MinIO image are needed, and under CI=true a missing one
# fails), but without -race (the race run already covers the same code;
# this pass is about what compiles and behaves on the older Go) and without
# the 4-node cluster test (`make test-cluster`, run once, on the newest Go).
#
# The modules are built in a workspace of those modules alone, so with
# their own requirements (golang.org/x/sys at the version the core's go.mod
# names, not the newer one gocloud's selects), as a user on that Go builds
# them. `make test-oldest-go`; `make test` runs it. With -list, it prints
# the modules it would test and exits; other arguments go to `go test`
# (`scripts/oldest-go.sh -run TestX`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
GO=${GO:-go}

golines() { awk '$1 == "go" {print $2}' "$1/go.mod"; }
core_go=$(golines .)
dirs=()
while read -r dir; do
	v=$(golines "$dir")
	if [[ $(printf '%s\n%s\n' "$v" "$core_go" | sort -V | tail -1) == "$core_go" ]]; then
		dirs+=("$dir")
	fi
done < <(GO=$GO scripts/modules.sh list)
if [[ ${1:-} == -list ]]; then
	printf '%s\n' "${dirs[@]}"
	exit 0
fi
: "${GO_OLDEST:?set GO_OLDEST, e.g. go1.25.14}"

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
"$GO" test -timeout 45m -skip '^TestCluster$' "$@" "${pkgs[@]}"
