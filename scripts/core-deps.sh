#!/usr/bin/env bash
# scripts/core-deps.sh [CORE_DIR]: what a program that imports only the
# core packages gets in its go.mod. It builds a throwaway module, outside
# any workspace, whose program imports storage, storage/driver,
# storage/faults, local, memory, cache, tiered, httpserve and iofs from the
# core module in CORE_DIR (this checkout by default) through a replace, as
# a user's module would require a released version; runs `go mod tidy` and
# `go build` in it; prints its requirements; and fails if any of them is
# neither strata's core nor a golang.org/x module, or if its module graph
# holds more than the core's own test-only requirements (issue #19: a light
# core; before the split it held 96 modules, minio-go and the AWS SDK among
# them, whose versions raised the program's own).
#
# Before the first release the core's go.mod requires the conformance module
# (for its own tests) at a version no proxy serves, so the throwaway module
# points that one at ./conformance too, as the proxy would serve it once
# released. Its go.mod must still not list it.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
core=$(cd "${1:-$root}" && pwd)
GO=${GO:-go}
prefix=github.com/strata-storage/strata

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/main.go" <<'EOF'
// Command corecheck uses every core package of strata.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/httpserve"
	"github.com/strata-storage/strata/iofs"
	"github.com/strata-storage/strata/local"
	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/driver"
	"github.com/strata-storage/strata/storage/faults"
	"github.com/strata-storage/strata/tiered"
)

var (
	_ = driver.New
	_ = faults.Wrap
	_ = iofs.New
)

func main() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "corecheck")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	c, err := cache.Open(dir+"/cache", cache.Options{MaxBytes: 1 << 20})
	if err != nil {
		panic(err)
	}
	s, err := tiered.New(c, memory.New(), tiered.Options{})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	l, err := local.New(dir+"/local", nil)
	if err != nil {
		panic(err)
	}
	defer l.Close()
	var h http.Handler = httpserve.New(s, nil)
	_, err = s.Stat(ctx, "k")
	fmt.Println(h != nil, err != nil, storage.ErrNotFound != nil)
}
EOF
{
	echo "module example.com/corecheck"
	echo
	echo "go 1.25.0"
	echo
	echo "require $prefix v0.0.0-00010101000000-000000000000"
	echo
	echo "replace $prefix => $core"
} >"$tmp/go.mod"
# Point every version of the conformance module the core requires at the
# directory, as the proxy will serve it (see above).
conf=$(awk -v p="$prefix/conformance" '{for (i = 1; i < NF; i++) if ($i == p) print $(i + 1)}' "$core/go.mod" | head -1)
if [[ -n $conf && -d $core/conformance ]]; then
	(cd "$tmp" && "$GO" mod edit -replace="$prefix/conformance@$conf=$core/conformance")
fi

cd "$tmp"
export GOWORK=off GOFLAGS=-mod=mod
"$GO" mod tidy
"$GO" build -o /dev/null .
reqs=$("$GO" mod edit -print | awk '/^require \(/ {r = 1; next} r && /^\)/ {r = 0} r {print $1} /^require [^(]/ {print $2}')
graph=$("$GO" list -m -f '{{if not .Main}}{{.Path}}{{end}}' all | sed '/^$/d')
echo "core-deps: a program importing only the core packages requires (go.mod):"
sed 's/^/  /' <<<"$reqs"
echo "core-deps: its module graph, whose versions can raise the program's own ($(wc -l <<<"$graph") modules; go.sum: $(wc -l <go.sum) lines):"
sed 's/^/  /' <<<"$graph" | head -40
status=0
bad=$(grep -v -e "^$prefix\$" -e '^golang\.org/x/' <<<"$reqs" || true)
if [[ -n $bad ]]; then
	echo "core-deps: FAIL: third-party modules in a core-only program's go.mod:" >&2
	sed 's/^/  /' <<<"$bad" >&2
	status=1
fi
# The graph holds the core's own requirements too, test-only ones included
# (the program never builds them, but their versions take part in version
# selection): the conformance module and testify (with its YAML package),
# nothing else.
bad=$(grep -v -e "^$prefix\$" -e "^$prefix/conformance\$" -e '^golang\.org/x/' \
	-e '^github\.com/stretchr/testify$' -e '^go\.yaml\.in/yaml/v3$' <<<"$graph" || true)
if [[ -n $bad ]]; then
	echo "core-deps: FAIL: the module graph of a core-only program holds:" >&2
	sed 's/^/  /' <<<"$bad" >&2
	status=1
fi
[[ $status == 0 ]] && echo "core-deps: ok"
exit $status
