# Shared by the bench scripts (sourced): the private network namespace,
# the lab, alternating rounds, and the median and spread of each figure.
# Every figure is a ratio of two servers measured in the same run.

# bench_ns SCRIPT ARGS...: re-runs SCRIPT in a private network namespace
# (nothing else on its loopback) with mxlab and mxbench built from this
# tree, unless it already runs there. BENCH_TMP is the run's directory.
bench_ns() {
  [ -n "${MXLAB_BENCH_NS:-}" ] && return 0
  for tool in unshare ip; do
    command -v "$tool" >/dev/null || { echo "bench: $tool not found (util-linux, iproute2)" >&2; exit 69; }
  done
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  local bin=${MXLAB_BIN:-}  # an mxlab binary to measure instead of this tree
  if [ -z "$bin" ]; then go build -o "$tmp/mxlab" ./cmd/mxlab; bin=$tmp/mxlab; fi
  go build -o "$tmp/mxbench" ./bench/mxbench
  # As root, a network namespace alone (smtp-sink then drops to nobody);
  # otherwise a user namespace that keeps the user's id.
  local ns=(unshare --user --map-current-user --net)
  [ "$(id -u)" = 0 ] && ns=(unshare --net)
  local status=0
  MXLAB_BENCH_NS=1 MXLAB_BENCH_BIN="$bin" BENCH_TMP="$tmp" "${ns[@]}" "$@" || status=$?
  exit $status
}

# bench_machine: the line every report starts with.
bench_machine() {
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
}

# bench_pids: what bench_stop stops, by PID, however the script ends.
bench_pids=()
bench_stop() { for p in "${bench_pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap bench_stop EXIT

# bench_lab SCENARIO...: starts `mxlab serve` on those scenarios and
# waits for its manifest ($BENCH_TMP/lab.json).
bench_lab() {
  local args=()
  for s in "$@"; do args+=(--scenario "$s"); done
  "$MXLAB_BENCH_BIN" serve --ephemeral --state-dir "$BENCH_TMP/state" --manifest "$BENCH_TMP/lab.json" \
    "${args[@]}" 2>"$BENCH_TMP/lab.log" &
  bench_pids+=($!)
  for _ in $(seq 300); do [ -s "$BENCH_TMP/lab.json" ] && return 0; sleep 0.1; done
  echo "bench: the lab did not start:" >&2; cat "$BENCH_TMP/lab.log" >&2; return 1
}

# bench_site SCENARIO FIELD: a field of the scenario's manifest entry.
bench_site() { "$BENCH_TMP/mxbench" site -manifest "$BENCH_TMP/lab.json" -scenario "$1" -field "$2"; }

# bench_server VAR OUTFILE CMD...: starts a peer that prints its address
# on its first line, waits for that line and puts it in VAR. Not to be
# called in $(...): the peer's PID would go into a subshell's bench_pids,
# and the peer would outlive the run (an alert-server did, 40 minutes).
bench_server() {
  local var=$1 out=$2; shift 2
  "$@" >"$out" 2>"$out.err" &
  bench_pids+=($!)
  for _ in $(seq 300); do
    if [ -s "$out" ]; then printf -v "$var" '%s' "$(head -1 "$out")"; return 0; fi
    sleep 0.1
  done
  echo "bench: $* did not start:" >&2; cat "$out.err" >&2; return 1
}

# bench_median RATE...: the median, rounded; bench_median_as FORMAT
# VALUE...: the median printed with FORMAT; bench_spread VALUE...: min-max.
bench_median_as() {
  local format=$1; shift
  printf '%s\n' "$@" | sort -n | awk -v f="$format" '{ v[NR] = $1 } END { printf f, (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
bench_median() { bench_median_as %.0f "$@"; }
bench_spread() { printf '%s\n' "$@" | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s-%s", lo, hi }'; }

# bench_rounds FIGURE UNIT TARGET ROUNDS NAME=FUNC...: runs each FUNC once
# per round, in turn (alternating), then prints each one's median and
# spread, and the ratio of the first to each of the others (TARGET is
# the issue's target for the ratio to the second): the ratio of the
# medians, and the median and spread of the rounds' own ratios. A shared
# machine's speed drifts between rounds (one run measured bare TLS at
# 697-801 sessions/s, the next at 796-923); within a round both servers
# see the same machine, so the rounds' ratios cancel most of the drift.
# Each FUNC prints one rate.
bench_rounds() {
  local figure=$1 unit=$2 target=$3 rounds=$4; shift 4
  local names=() funcs=() r i
  for nf in "$@"; do names+=("${nf%%=*}"); funcs+=("${nf#*=}"); done
  declare -A rates
  for r in $(seq "$rounds"); do
    local line="round $r:"
    for i in "${!funcs[@]}"; do
      local v
      v=$(${funcs[$i]}) || { echo "bench: ${names[$i]} failed in round $r" >&2; return 1; }
      rates[$i]="${rates[$i]:-} $v"
      line+=" ${names[$i]} $v $unit,"
    done
    echo "${line%,}"
  done
  local medians=()
  for i in "${!funcs[@]}"; do
    # shellcheck disable=SC2086
    medians[$i]=$(bench_median ${rates[$i]})
    # shellcheck disable=SC2086
    printf '%-28s median %s %s (spread %s)\n' "${names[$i]}:" "${medians[$i]}" "$unit" "$(bench_spread ${rates[$i]})"
  done
  for i in "${!funcs[@]}"; do
    [ "$i" = 0 ] && continue
    awk -v l="${medians[0]}" -v s="${medians[$i]}" -v f="$figure" -v a="${names[0]}" -v b="${names[$i]}" -v t="$target" \
      -v first="$([ "$i" = 1 ] && echo 1)" \
      'BEGIN { printf "ratio: %s: %s / %s = %.3f", f, a, b, l / s; if (first) printf " (issue 14 target: %s)", t; print "" }'
    local per=() mine theirs k
    read -r -a mine <<<"${rates[0]}"
    read -r -a theirs <<<"${rates[$i]}"
    for k in "${!mine[@]}"; do
      per+=("$(awk -v l="${mine[$k]}" -v s="${theirs[$k]}" 'BEGIN { printf "%.3f", l / s }')")
    done
    printf 'rounds'"'"' ratios: %s / %s: %s; median %s (spread %s)\n' "${names[0]}" "${names[$i]}" "${per[*]}" \
      "$(bench_median_as %.3f "${per[@]}")" "$(bench_spread "${per[@]}")"
  done
}
