#!/bin/sh
# The job of the job benchmarks, for autoctrl and Snakemake alike: appends
# when it started and when it ended (ns since the epoch) to a ledger, so both
# systems are timed by the same clock from the same file.
#   ledger-job.sh LEDGER LABEL...   (the label: task and run)
# `command -p`: the job's environment may have no PATH. Each line is one
# short write in append mode, so concurrent jobs do not interleave.
ledger=$1
shift
echo "start $(command -p date +%s%N) $*" >>"$ledger"
echo "end $(command -p date +%s%N) $*" >>"$ledger"
