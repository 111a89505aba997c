#!/bin/sh
# The peer of bench/throughput.ts: Snakemake on the same work. RUNS runs ×
# a TASKS-step chain (one rule per step, the run as wildcard), every job the
# same bench/ledger-job.sh as autoctrl's, CORES cores. Prints the time from
# the first job's start to the last job's end, read from the ledger.
#
#   bench/peers.sh [-r RUNS] [-t TASKS] [-c CORES] [-s greedy|ilp|default] [-l LEDGER] [-k]
#
# Defaults: 200 runs, 5 tasks, 2 cores, the default scheduler (ilp, greedy
# when no solver is found). -l keeps the ledger at LEDGER (it must not exist);
# -k keeps the work directory. SNAKEMAKE overrides the program (default:
# snakemake on PATH, Debian's 7.21 in /usr/bin).
set -eu

runs=200 tasks=5 cores=2 scheduler=default ledger= keep=
while getopts r:t:c:s:l:k opt; do
  case $opt in
  r) runs=$OPTARG ;;
  t) tasks=$OPTARG ;;
  c) cores=$OPTARG ;;
  s) scheduler=$OPTARG ;;
  l) ledger=$OPTARG ;;
  k) keep=1 ;;
  *) sed -n 's/^#   \(bench.peers.sh .*\)/usage: \1/p' "$0" >&2; exit 2 ;;
  esac
done
snakemake=${SNAKEMAKE:-snakemake}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/autoctrl-peers-XXXXXX")
[ -n "$keep" ] || trap 'rm -rf "$work"' EXIT
trap 'exit 143' TERM INT
[ -n "$ledger" ] || ledger=$work/ledger
[ ! -e "$ledger" ] || { echo "peers.sh: $ledger exists already" >&2; exit 2; }
: >"$ledger"

{
  echo "RUNS = range(1, $runs + 1)"
  echo "rule all:"
  echo "    input: expand('out/t$((tasks - 1))/{run}', run=RUNS)"
  i=0
  while [ "$i" -lt "$tasks" ]; do
    echo "rule t$i:"
    [ "$i" -eq 0 ] || echo "    input: 'out/t$((i - 1))/{run}'"
    echo "    output: touch('out/t$i/{run}')"
    echo "    shell: \"/bin/bash '$here/ledger-job.sh' '$ledger' t$i {wildcards.run}\""
    i=$((i + 1))
  done
} >"$work/Snakefile"

set -- --snakefile "$work/Snakefile" --directory "$work" --cores "$cores"
[ "$scheduler" = default ] || set -- "$@" --scheduler "$scheduler"
if ! "$snakemake" "$@" >"$work/snakemake.log" 2>&1; then
  tail -n 20 "$work/snakemake.log" >&2
  echo "peers.sh: snakemake failed (log above; -k keeps $work)" >&2
  exit 1
fi

# First start → last end, in ms: the same reading as bench/throughput.ts.
awk -v want="$((runs * tasks))" -v what="snakemake $("$snakemake" --version), $runs runs x $tasks tasks, $cores cores, scheduler $scheduler" '
  $1 == "start" && (first == "" || $2 < first) { first = $2 }
  $1 == "end" { ends++; if (last == "" || $2 > last) last = $2 }
  END {
    if (ends != want) { printf "peers.sh: %d jobs ended, expected %d\n", ends, want > "/dev/stderr"; exit 1 }
    printf "%s: %.0f ms first start -> last end\n", what, (last - first) / 1e6
  }' "$ledger"
