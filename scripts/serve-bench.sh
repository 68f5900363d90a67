#!/usr/bin/env bash
# serve-bench.sh: serves the same files through http.FileServer, through
# httpserve over a local store and over a tiered store's cache hit (files
# written by strata, and plain files with no metadata; "tiered-nover" is
# a cache with SkipVerify, whose difference from "tiered" is what checking
# a hit's bytes costs), and through nginx when it is installed, and
# measures each with wrk over TCP loopback: the
# servers take turns, ROUNDS rounds of SECONDS each (four times as long
# for the whole MP4), for a 64 KiB JPEG, a 64 KiB range of a 64 MiB MP4 and
# the whole MP4. It prints the medians of requests/s, p99 latency and the
# server's CPU time per request (from /proc), and the medians of their
# ratios to FileServer's in the same round: a round's ratio compares
# servers measured seconds apart, so a change in the machine's speed
# between rounds moves every server of the round alike.
#
#	scripts/serve-bench.sh [ROUNDS [SECONDS]]     (default 7 rounds of 3 s)
#
# wrk (apt-get install wrk) is the client: 16 keep-alive connections.
# On a machine of two CPUs or more, with taskset (util-linux), every server
# runs on CPU 0 and wrk on the others, one thread each: a server's
# requests/s then measures what a request costs it, not how the scheduler
# shared the CPUs between it and wrk in that second, which on two shared
# CPUs moves a server's figures from round to round by more than the
# servers differ. STRATA_SERVEBENCH_PIN=0 shares them instead, with 2 wrk
# threads. nginx, if on the PATH, runs one worker with sendfile; it is the
# physical anchor. STRATA_SERVEBENCH_BASE=path names a servebench binary
# built from another checkout (go build -o path ./httpserve/internal/servebench
# there), whose local and tiered servers are measured in the same rounds:
# a before-and-after comparison.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

rounds=${1:-7}
secs=${2:-3}
for n in "$rounds" "$secs"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "serve-bench: ROUNDS and SECONDS are whole numbers above 0, not \"$n\" (usage: scripts/serve-bench.sh [ROUNDS [SECONDS]])" >&2; exit 2; }
done
command -v wrk >/dev/null || { echo "serve-bench: wrk is not installed (apt-get install wrk)" >&2; exit 2; }

# pin: the command prefix of the servers and of wrk, and wrk's threads.
server_cpu=() client_cpu=() wrk_threads=2
ncpu=$(getconf _NPROCESSORS_ONLN)
if [ "${STRATA_SERVEBENCH_PIN:-1}" != 0 ] && [ "$ncpu" -ge 2 ] && command -v taskset >/dev/null; then
	server_cpu=(taskset -c 0)
	client_cpu=(taskset -c "1-$((ncpu - 1))")
	wrk_threads=$((ncpu - 1))
	echo "servers on CPU 0, wrk on the other $wrk_threads (one thread each)"
else
	echo "servers and wrk (2 threads) share the CPUs"
fi

work=$(mktemp -d /tmp/serve-bench.XXXXXX)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	[ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/servebench" ./httpserve/internal/servebench

# name port binary flags...
servers=(
	"fileserver 18081 $work/servebench -mode fs"
	"local 18082 $work/servebench -mode local"
	"tiered 18083 $work/servebench -mode tiered"
	"local-plain 18084 $work/servebench -mode local -plain"
	"tiered-plain 18085 $work/servebench -mode tiered -plain"
	"tiered-nover 18088 $work/servebench -mode tiered-noverify"
)
if [ -n "${STRATA_SERVEBENCH_BASE:-}" ]; then
	servers+=("base-local 18086 $STRATA_SERVEBENCH_BASE -mode local"
		"base-tiered 18087 $STRATA_SERVEBENCH_BASE -mode tiered")
fi
declare -A pidof
names=()
for s in "${servers[@]}"; do
	read -r name port bin flags <<<"$s"
	# shellcheck disable=SC2086 # flags are words
	"${server_cpu[@]}" "$bin" $flags -dir "$work/$name" -addr "127.0.0.1:$port" >"$work/$name.log" 2>&1 &
	pids+=($!)
	pidof[$name]=$!
	names+=("$name:$port")
done
if command -v nginx >/dev/null; then
	cat >"$work/nginx.conf" <<CONF
user $(id -un);
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	types { image/jpeg jpg; video/mp4 mp4; }
	server { listen 127.0.0.1:18090; location /media/ { alias $work/fileserver/data/; } }
}
CONF
fi
for s in "${servers[@]}"; do
	read -r name port _ <<<"$s"
	for _ in $(seq 600); do
		grep -q '^ready' "$work/$name.log" 2>/dev/null && break
		if ! kill -0 "${pidof[$name]}" 2>/dev/null; then cat "$work/$name.log" >&2; exit 1; fi
		sleep 0.1
	done
done
if [ -f "$work/nginx.conf" ]; then
	"${server_cpu[@]}" nginx -c "$work/nginx.conf"
	sleep 0.5
	pidof[nginx]=$(pgrep -P "$(cat "$work/nginx.pid")")
	names+=("nginx:18090")
fi

tck=$(getconf CLK_TCK)
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
measure() { # path range seconds label
	local path=$1 rng=$2 dur=$3 label=$4 raw="$work/raw"
	: >"$raw"
	for round in $(seq "$rounds"); do
		for np in "${names[@]}"; do
			# --timeout: a slow answer is counted, not dropped as an error.
			local name=${np%%:*} port=${np##*:} args=("-t$wrk_threads" -c16 "-d${dur}s" --timeout 60s --latency)
			[ -n "$rng" ] && args+=(-H "Range: $rng")
			local a b out
			a=$(cpu "${pidof[$name]}")
			out=$("${client_cpu[@]}" wrk "${args[@]}" "http://127.0.0.1:$port$path")
			b=$(cpu "${pidof[$name]}")
			echo "$out" | awk -v round="$round" -v name="$name" -v cpu=$((b - a)) -v tck="$tck" '
				function us(v) { if (v ~ /us$/) return v + 0; if (v ~ /ms$/) return v * 1000; if (v ~ /m$/) return v * 60e6; return v * 1e6 }
				/requests in/ { n = $1 }
				/^ +99%/ { p99 = us($2) }
				/Requests\/sec/ { rps = $2 }
				/Non-2xx/ { bad = 1 }
				/Socket errors/ { bad = 1 }
				END { if (bad) { print name " answered errors" > "/dev/stderr"; exit 1 }
				      printf "%s %s %f %f %f\n", round, name, rps, p99, cpu * 1e6 / tck / n }' >>"$raw"
		done
	done
	echo "== $label (medians of $rounds runs of ${dur}s, wrk -t$wrk_threads -c16; x-fs: median of the rounds' ratios)"
	awk '
		$2 == "fileserver" { frps[$1] = $3; fp99[$1] = $4 }
		{ s = $2; rps[s] = rps[s] " " $3; p99[s] = p99[s] " " $4; cpu[s] = cpu[s] " " $5
		  xr[s] = xr[s] " " $3 / frps[$1]; xp[s] = xp[s] " " $4 / fp99[$1]
		  if (!(s in seen)) { seen[s] = 1; order[++k] = s } }
		function med(s,   a, n, i, j, t) { n = split(s, a, " "); for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }; return a[int((n + 1) / 2)] }
		END {
			printf "%-13s %10s %8s %9s %8s %12s\n", "server", "req/s", "x-fs", "p99-ms", "x-fs", "cpu-us/req"
			for (i = 1; i <= k; i++) { s = order[i]
				printf "%-13s %10.0f %8.2f %9.2f %8.2f %12.1f\n", s, med(rps[s]), med(xr[s]), med(p99[s]) / 1000, med(xp[s]), med(cpu[s]) }
		}' "$raw"
}

measure /media/img/small.jpg "" "$secs" "64 KiB JPEG"
measure /media/vid/big.mp4 "bytes=33554432-33619967" "$secs" "64 KiB range of a 64 MiB MP4"
measure /media/vid/big.mp4 "" "$((secs * 4))" "whole 64 MiB MP4"
