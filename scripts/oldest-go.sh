#!/usr/bin/env bash
# scripts/oldest-go.sh: vet and test the core module, and the conformance
# module its tests run, with the older supported Go ($GO_OLDEST, say
# go1.25.14, which the go command fetches from the module proxy through
# GOTOOLCHAIN). They are built in a workspace of those two modules alone, so
# with the core's own requirements (x/sys at the version its go.mod names,
# not the newer one another module of the repository selects), as a user on
# that Go builds them. `make test-oldest-go`; `make test` runs it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
GO=${GO:-go}
: "${GO_OLDEST:?set GO_OLDEST, e.g. go1.25.14}"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
{
	echo "go $(awk '$1 == "go" {print $2}' go.mod)"
	echo "use ("
	echo "	$root"
	echo "	$root/conformance"
	echo ")"
	# go.work's replaces of the placeholder version, for these two modules.
	awk -v root="$root" '
		/^replace \(/ {r = 1; next}
		r && /^\)/ {r = 0}
		r && $3 == "=>" && ($4 == "." || $4 == "./conformance") {
			dir = ($4 == ".") ? root : root "/conformance"
			print "replace " $1 " " $2 " => " dir
		}' go.work
} >"$tmp/go.work"

export GOWORK=$tmp/go.work GOTOOLCHAIN=$GO_OLDEST
echo "oldest-go: $("$GO" version), workspace: the core and conformance" >&2
"$GO" vet ./... ./conformance/...
"$GO" test -timeout 45m ./... ./conformance/...
