#!/usr/bin/env bash
# scripts/modules.sh: the Go modules of this repository, as go.work lists
# them (the core, ".", first).
#
#   scripts/modules.sh list    each module's directory, relative, one a line
#   scripts/modules.sh tidy    `go mod tidy` in every module
#   scripts/modules.sh check   fail unless every go.mod in the tree is in
#                              go.work, every module is tidy, and every
#                              module's go line is the core's but those of
#                              newer_go below (changes nothing)
#   scripts/modules.sh set-version vX.Y.Z
#                              make every module require the others at vX.Y.Z,
#                              and go.work point that version at the
#                              directories (a release, see RELEASING.md)
#
# No go.mod has a replace directive (they would break `go install
# .../cmd/strata@latest`), and go.work is ignored by `go mod tidy`. So each
# module is tidied on its own, with the workspace off and, for that run only,
# the other modules of this repository replaced by their directories: in a
# copy of its go.mod (-modfile), from which the replaces are then dropped.
# A requirement on another module of this repository is written at the
# version it has (v0.0.0-00010101000000-000000000000 before the first
# release, see RELEASING.md), and go.sum lines for those modules are left as
# they are: the release process writes them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
GO=${GO:-go}
prefix=github.com/strata-storage/strata
# The modules whose go line may be newer than the core's, because a
# dependency they cannot do without needs a newer Go (gocloud: the Go CDK
# releases with the driver API it implements say go 1.26). Every other
# module must build on the older supported Go, which `make test-oldest-go`
# tests: a go line raised by a tidy would take its module out of that run
# unseen, so check fails on it instead.
newer_go=(./gocloud)

# modules prints "path dir" for each module of the workspace, dir absolute.
modules() { GOWORK="$root/go.work" "$GO" list -m -f '{{.Path}} {{.Dir}}'; }

# tidy_into DIR OUT: tidy the module in DIR into OUT/go.mod and OUT/go.sum.
tidy_into() {
	local dir=$1 out=$2 path mdir
	cp "$dir/go.mod" "$out/go.mod"
	if [[ -f $dir/go.sum ]]; then cp "$dir/go.sum" "$out/go.sum"; else : >"$out/go.sum"; fi
	local reps=()
	while read -r path mdir; do
		[[ $mdir == "$dir" ]] && continue
		reps+=("$path")
		"$GO" mod edit -replace="$path=$mdir" "$out/go.mod"
	done < <(modules)
	(cd "$dir" && GOWORK=off GOFLAGS=-mod=mod "$GO" mod tidy -modfile="$out/go.mod")
	for path in "${reps[@]}"; do
		"$GO" mod edit -dropreplace="$path" "$out/go.mod"
	done
	# Keep go.sum lines of this repository's modules as they were: the
	# replaced run cannot know them.
	grep "^$prefix[ /]" "$dir/go.sum" 2>/dev/null | grep -vxF -f "$out/go.sum" >>"$out/go.sum" || true
	[[ -s $out/go.sum ]] || rm "$out/go.sum"
}

sorted_sum() { if [[ -f $1 ]]; then LC_ALL=C sort "$1"; fi; }

case ${1:-} in
list)
	modules | while read -r _ dir; do
		rel=${dir#"$root"}
		echo ".${rel}"
	done
	;;
tidy | check)
	status=0
	if [[ $1 == check ]]; then
		# Every go.mod below the root must be a module of the workspace:
		# one left out would be built and tested by nobody.
		listed=$(modules | awk '{print $2}' | LC_ALL=C sort)
		found=$(find "$root" -name go.mod -not -path '*/testdata/*' -not -path '*/.git/*' -printf '%h\n' | LC_ALL=C sort)
		if [[ $listed != "$found" ]]; then
			echo "modules.sh: the go.mod files and go.work's use list differ (add the module with: go work use DIR):" >&2
			diff <(echo "$listed") <(echo "$found") >&2 || true
			status=1
		fi
		core_go=$(awk '$1 == "go" {print $2}' go.mod)
		while read -r _ dir; do
			rel=.${dir#"$root"}
			v=$(awk '$1 == "go" {print $2}' "$dir/go.mod")
			if [[ $v != "$core_go" && " ${newer_go[*]} " != *" $rel "* ]]; then
				echo "modules.sh: $rel says go $v, the core go $core_go: lower the requirement that needs the newer Go (see RELEASING.md), or add the module to newer_go in $0" >&2
				status=1
			fi
		done < <(modules)
	fi
	while read -r path dir; do
		out=$(mktemp -d)
		if ! tidy_into "$dir" "$out"; then
			echo "modules.sh: go mod tidy failed in ${dir#"$root/"}" >&2
			status=1
		elif [[ $1 == tidy ]]; then
			cp "$out/go.mod" "$dir/go.mod"
			if [[ -f $out/go.sum ]]; then cp "$out/go.sum" "$dir/go.sum"; else rm -f "$dir/go.sum"; fi
		elif ! cmp -s "$out/go.mod" "$dir/go.mod" || ! cmp -s <(sorted_sum "$out/go.sum") <(sorted_sum "$dir/go.sum"); then
			echo "modules.sh: $path is not tidy (run scripts/modules.sh tidy):" >&2
			diff "$dir/go.mod" "$out/go.mod" >&2 || true
			diff <(sorted_sum "$dir/go.sum") <(sorted_sum "$out/go.sum") | head -20 >&2 || true
			status=1
		fi
		rm -rf "$out"
	done < <(modules)
	exit $status
	;;
set-version)
	v=${2:-}
	if ! [[ $v =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
		echo "usage: $0 set-version vX.Y.Z" >&2
		exit 2
	fi
	while read -r _ dir; do
		for req in $(awk -v p="$prefix" '{for (i = 1; i < NF; i++) if ($i == p || index($i, p "/") == 1) print $i}' "$dir/go.mod" | sort -u); do
			"$GO" mod edit -require="$req@$v" "$dir/go.mod"
		done
	done < <(modules)
	# go.work's replaces name the version the go.mod files require, so that
	# the workspace never asks a proxy for this repository's modules.
	sed -i -E "s#^(\t$prefix[^ ]*) v[^ ]+ => #\1 $v => #" go.work
	;;
*)
	echo "usage: $0 list|tidy|check|set-version" >&2
	exit 2
	;;
esac
