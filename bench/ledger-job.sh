#!/bin/bash
# The job of the job benchmarks, for autoctrl and Snakemake alike: appends
# when it started and when it ended (ns since the epoch) to a ledger, so both
# systems are timed by the same clock from the same file.
#   ledger-job.sh LEDGER LABEL...   (the label: task and run)
#   LEDGER=FILE ledger-job.sh LABEL...   (autoctrl: a file its command names
#   is recorded as the task's code, hashed again whenever it changed, which a
#   ledger does at every job)
# bash for $EPOCHREALTIME: `$(date +%s%N)` forks, and a fork costs 10-15 ms
# on this kind of VM, which the ledger then counted as the systems' own
# latency (the downstream job's first stamp came one fork after its start).
# The decimal point is the locale's. Each line is one short write in append
# mode, so concurrent jobs do not interleave.
if [ -n "${LEDGER:-}" ]; then
  ledger=$LEDGER
else
  ledger=$1
  shift
fi
at=${EPOCHREALTIME/[.,]/}
echo "start ${at}000 $*" >>"$ledger"
at=${EPOCHREALTIME/[.,]/}
echo "end ${at}000 $*" >>"$ledger"
