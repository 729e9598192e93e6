# Shared helpers for the benchmarks in bench/, sourced by each bench-* script.
# Every process a benchmark starts goes through bench_spawn, so the EXIT trap
# set here stops exactly those processes (by pid) however the script ends.
# shellcheck shell=bash disable=SC2034

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
EBB=${EBB:-$ROOT/build/ebb}
BENCH_RESULTS=${BENCH_RESULTS:-$BENCH_DIR/results}
CLK_TCK=$(getconf CLK_TCK)
mkdir -p "$BENCH_RESULTS"

# The server under test gets CPU 0 and the load generator CPU 1, so "one
# core" is enforced, not assumed. With a single CPU nothing is pinned and the
# numbers only say what server and client reach together.
if [ "$(nproc)" -ge 2 ]; then
    SERVER_CPU=0
    CLIENT_CPU=1
else
    SERVER_CPU=
    CLIENT_CPU=
fi

# --- processes -----------------------------------------------------------------

bench_pids=()

bench_cleanup() {
    local pid i
    for pid in "${bench_pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${bench_pids[@]}"; do
        for i in $(seq 30); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    bench_pids=()
}
trap bench_cleanup EXIT
trap 'exit 143' TERM INT

# pin CPU CMD...: runs CMD on CPU (or unpinned when CPU is empty).
pin() {
    local cpu=$1
    shift
    if [ -n "$cpu" ]; then
        taskset -c "$cpu" "$@"
    else
        "$@"
    fi
}

# bench_spawn LOG CPU CMD...: starts CMD in the background, pinned to CPU,
# output to LOG; sets SPAWNED_PID and registers it for the EXIT trap.
bench_spawn() {
    local log=$1 cpu=$2
    shift 2
    local cmd=("$@")
    [ -z "$cpu" ] || cmd=(taskset -c "$cpu" "$@")
    # A simple command, not a function, so $! is the process itself (taskset execs).
    "${cmd[@]}" >"$log" 2>&1 &
    SPAWNED_PID=$!
    bench_pids+=("$SPAWNED_PID")
}

# bench_stop PID: stops one process this script started (SIGTERM, then
# SIGKILL after 10 s) and forgets it.
bench_stop() {
    local pid=$1 i keep=()
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for i in "${bench_pids[@]}"; do
        [ "$i" = "$pid" ] || keep+=("$i")
    done
    bench_pids=("${keep[@]}")
}

# free_port: a loopback port nothing listens on (checked, not reserved),
# below the kernel's ephemeral range so no client connection holds it.
free_port() {
    local p i lo
    lo=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    for i in $(seq 100); do
        p=$((10000 + RANDOM % (lo - 10000)))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    echo "free_port: no free port found" >&2
    return 1
}

# wait_port PORT SECONDS [PID]: waits until something accepts on
# 127.0.0.1:PORT; fails at once if PID (the server) has exited.
wait_port() {
    local port=$1 limit=$2 pid=${3:-} i
    for i in $(seq $((limit * 20))); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
        sleep 0.05
    done
    echo "wait_port: nothing listens on 127.0.0.1:$port after ${limit}s" >&2
    return 1
}

# --- measuring -------------------------------------------------------------------

# proc_ticks PID: user + system CPU time of PID, in clock ticks.
proc_ticks() {
    # Fields after the ")" that ends the command name: utime is the 12th, stime the 13th.
    sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# proc_rss_kb PID: resident set size of PID, in KiB.
proc_rss_kb() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# cpu_jiffies CPU: "BUSY TOTAL IRQ" clock ticks of one CPU since boot, from
# /proc/stat. IRQ is irq + softirq time, which /proc/PID/stat does not charge
# to any process: on loopback the receiver's TCP work runs in the sender's
# softirq, so a server's honest cost is its own time plus that. Busy also
# holds whatever else ran there (the machine is shared) and steal (the
# hypervisor's share: the core was not ours).
cpu_jiffies() {
    awk -v cpu="cpu$1" '$1 == cpu { t = 0; for (i = 2; i <= 9; i++) t += $i; print t - $5 - $6, t, $7 + $8 }' /proc/stat
}

now() {
    date +%s.%N
}

# calc EXPR: floating-point arithmetic (awk), printed with 6 significant digits.
calc() {
    awk "BEGIN { printf \"%.6g\", $* }"
}

# bench_row BENCHMARK CASE EBB PEER RATIO NOTE: one line of the summary table.
bench_row() {
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$BENCH_RESULTS/summary.tsv"
}

need() {
    local t
    for t in "$@"; do
        if ! command -v "$t" >/dev/null; then
            echo "$(basename "$0"): \"$t\" is not installed (scripts/install-deps installs the peers)" >&2
            return 1
        fi
    done
}

# run_wrk CONNS N URL SECONDS OUT: wrk (one thread) on the client CPU; OUT
# gets wrk's output, whose WRK line bench/wrk-post.lua prints, and a
# "CPU user sys" line with wrk's own CPU time in seconds.
run_wrk() {
    local conns=$1 n=$2 url=$3 secs=$4 out=$5
    local TIMEFORMAT="CPU %U %S"
    { time MAX_TOKENS=$n pin "$CLIENT_CPU" wrk -t1 -c"$conns" -d"${secs}s" --timeout 30s \
        -s "$BENCH_DIR/wrk-post.lua" "$url" >"$out" 2>&1; } 2>>"$out"
}

# kv KEY FILE: the value of KEY=... on the WRK line of FILE.
kv() {
    grep '^WRK ' "$2" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k { print $2 }'
}

# --- the servers: ebb engine, and nginx serving what the engine streams -------

MODEL=meta-llama/Llama-3.1-8B-Instruct

# request_body N: the one request every benchmark sends, max_tokens N.
request_body() {
    printf '{"model":"%s","prompt":"Once upon a time,","max_tokens":%d,"stream":true,"ignore_eos":true}' \
        "$MODEL" "$1"
}

# engine_start DIR [WRAPPER...]: starts `ebb engine --time-scale 0` on the
# server CPU (under WRAPPER, e.g. valgrind, if given), log in DIR/engine.log;
# sets EPID and EPORT.
engine_start() {
    local dir=$1 try
    shift
    # A port found free can be taken before the server binds it: try another.
    for try in 1 2 3; do
        EPORT=$(free_port)
        bench_spawn "$dir/engine.log" "$SERVER_CPU" "$@" "$EBB" engine --time-scale 0 \
            --host 127.0.0.1 --port "$EPORT" --max-num-seqs 1024 --shutdown-grace 2 \
            --log-level warning
        EPID=$SPAWNED_PID
        wait_port "$EPORT" 30 "$EPID" && return 0
        bench_stop "$EPID"
    done
    echo "$(basename "$0"): the engine did not start; see $dir/engine.log" >&2
    return 1
}

# engine_tokens: the engine's vllm:generation_tokens_total.
engine_tokens() {
    curl -sS "http://127.0.0.1:$EPORT/metrics" | awk '/^vllm:generation_tokens_total/ { print $2 }'
}

# sse_capture DIR N...: for each max_tokens N, captures one real streamed
# response from the engine as DIR/nginx/www/{static,paced}/sse-N (the decoded
# SSE body, for nginx to serve), after checking it is what vLLM sends. Sets
# WIRE_EBB[N] (bytes of the engine's response on the wire, head and chunked
# body) and EVENT_BYTES[N] (average bytes of one SSE event).
declare -gA WIRE_EBB WIRE_NGINX EVENT_BYTES
sse_capture() {
    local dir=$1 n body code events
    shift
    mkdir -p "$dir/nginx/www/static" "$dir/nginx/www/paced"
    for n in "$@"; do
        body=$dir/nginx/www/static/sse-$n
        code=$(curl -sS -o "$body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
            --data "$(request_body "$n")" "http://127.0.0.1:$EPORT/v1/completions")
        events=$(grep -c '^data: {' "$body" || true)
        if [ "$code" != 200 ] || [ "$events" != "$n" ] ||
            [ "$(tail -c 14 "$body")" != 'data: [DONE]' ] ||
            [ "$(grep -c '"finish_reason":"length"' "$body")" != 1 ]; then
            echo "$(basename "$0"): the engine's stream for max_tokens=$n is not what vLLM sends" \
                "(status $code, $events token events; kept in $body)" >&2
            return 1
        fi
        cp "$body" "$dir/nginx/www/paced/sse-$n"
        WIRE_EBB[$n]=$(curl -sS --raw -o /dev/null -w '%{size_header} %{size_download}' -X POST \
            -H 'Content-Type: application/json' --data "$(request_body "$n")" \
            "http://127.0.0.1:$EPORT/v1/completions" | awk '{ print $1 + $2 }')
        EVENT_BYTES[$n]=$(($(stat -c %s "$body") / (n + 1)))
    done
}

# nginx_config DIR PORT: an nginx.conf for an ordinary process (no daemon,
# everything under DIR), one worker, serving what sse_capture saved:
#   /static/sse-N  with sendfile: a static-file server at its best;
#   /paced/sse-N   sendfile off, output_buffers of one average event: about
#                  one write() per token, as the engine streams.
# POST is answered too: the static module's 405 is turned into the file.
nginx_config() {
    local dir=$1 port=$2 t n
    echo "daemon off;"
    echo "master_process on;"
    echo "worker_processes 1;"
    echo "user $(id -un) $(id -gn);"
    echo "pid $dir/nginx.pid;"
    echo "error_log $dir/error.log warn;"
    echo "events { worker_connections 4096; }"
    echo "http {"
    echo "  access_log off;"
    for t in client_body proxy fastcgi uwsgi scgi; do echo "  ${t}_temp_path $dir/${t}_temp;"; done
    echo "  default_type text/event-stream;"
    echo "  tcp_nodelay on;"
    echo "  keepalive_requests 1000000000;"
    echo "  keepalive_timeout 60s;"
    echo "  server {"
    echo "    listen 127.0.0.1:$port;"
    echo "    root $dir/www;"
    echo "    error_page 405 =200 \$uri;"
    echo "    location /static/ { sendfile on; }"
    for n in "${!EVENT_BYTES[@]}"; do
        echo "    location = /paced/sse-$n { sendfile off; output_buffers 1 ${EVENT_BYTES[$n]};" \
            "postpone_output 0; }"
    done
    echo "  }"
    echo "}"
}

# nginx_start DIR: nginx on the server CPU with nginx_config in DIR/nginx.
# Checks both locations serve the captured body byte for byte; sets NPID,
# NWORKER (the worker's pid), NPORT and WIRE_NGINX[N].
nginx_start() {
    local ndir=$1/nginx n kind try
    for try in 1 2 3; do
        NPORT=$(free_port)
        nginx_config "$ndir" "$NPORT" >"$ndir/nginx.conf"
        bench_spawn "$ndir/nginx.log" "$SERVER_CPU" nginx -p "$ndir" -c "$ndir/nginx.conf" \
            -e "$ndir/error.log"
        NPID=$SPAWNED_PID
        wait_port "$NPORT" 10 "$NPID" && break
        bench_stop "$NPID"
        if [ "$try" = 3 ]; then
            echo "$(basename "$0"): nginx did not start; see $ndir/error.log" >&2
            return 1
        fi
    done
    NWORKER=$(ps -o pid= --ppid "$NPID" | awk 'NR == 1 { print $1 }')
    for n in "${!EVENT_BYTES[@]}"; do
        for kind in static paced; do
            if ! curl -sS -X POST --data "$(request_body "$n")" "http://127.0.0.1:$NPORT/$kind/sse-$n" |
                cmp -s - "$ndir/www/static/sse-$n"; then
                echo "$(basename "$0"): nginx does not serve /$kind/sse-$n byte for byte" >&2
                return 1
            fi
        done
        WIRE_NGINX[$n]=$(curl -sS -o /dev/null -w '%{size_header} %{size_download}' -X POST \
            --data "$(request_body "$n")" "http://127.0.0.1:$NPORT/static/sse-$n" |
            awk '{ print $1 + $2 }')
    done
}

# --- additions for bench-router -------------------------------------------------

# run_wrk_script SCRIPT CONNS URL SECONDS OUT [TIMEOUT]: like run_wrk, with
# any script in bench/ (its environment passes through); TIMEOUT (default
# 10s) is wrk's per-request timeout.
run_wrk_script() {
    local script=$1 conns=$2 url=$3 secs=$4 out=$5 tmo=${6:-10s}
    local TIMEFORMAT="CPU %U %S"
    { time pin "$CLIENT_CPU" wrk -t1 -c"$conns" -d"${secs}s" --timeout "$tmo" \
        -s "$BENCH_DIR/$script" "$url" >"$out" 2>&1; } 2>>"$out"
}

# nginx_conf_head DIR CONNS: the part of an nginx.conf every set-up shares:
# an ordinary process (no daemon), one worker with CONNS connections (and as
# many files), everything under DIR, no access log, keep-alive without limits.
# The caller prints the servers and the closing "}".
nginx_conf_head() {
    local dir=$1 conns=$2 t
    echo "daemon off;"
    echo "master_process on;"
    echo "worker_processes 1;"
    echo "worker_rlimit_nofile $conns;"
    echo "user $(id -un) $(id -gn);"
    echo "pid $dir/nginx.pid;"
    echo "error_log $dir/error.log warn;"
    echo "events { worker_connections $conns; }"
    echo "http {"
    echo "  access_log off;"
    for t in client_body proxy fastcgi uwsgi scgi; do echo "  ${t}_temp_path $dir/${t}_temp;"; done
    echo "  tcp_nodelay on;"
    echo "  keepalive_requests 1000000000;"
    echo "  keepalive_timeout 75s;"
}

# nginx_spawn DIR CPU: starts nginx with DIR/nginx.conf (written by the
# caller, listening on the port in DIR/port), pinned to CPU; sets NPID and
# NWORKER (its one worker). Fails if nothing listens within 10 s.
nginx_spawn() {
    local dir=$1 cpu=$2 i
    bench_spawn "$dir/nginx.log" "$cpu" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
    NPID=$SPAWNED_PID
    wait_port "$(cat "$dir/port")" 10 "$NPID" || return 1
    for i in $(seq 50); do
        NWORKER=$(ps -o pid= --ppid "$NPID" | awk 'NR == 1 { print $1 }')
        [ -z "$NWORKER" ] || return 0
        sleep 0.05
    done
    return 1
}

# bench_forget PID: drops a process that has already been waited for from the
# list the EXIT trap stops.
bench_forget() {
    local pid=$1 i keep=()
    for i in "${bench_pids[@]}"; do
        [ "$i" = "$pid" ] || keep+=("$i")
    done
    bench_pids=("${keep[@]}")
}
