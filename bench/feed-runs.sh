#!/bin/sh
# A `command` source that hands autoctrl every run of FILE (JSON lines) at
# its first poll and nothing after: how the benchmarks add thousands of runs
# in one go (`autoctrl runs add` takes one run per process).
#   sources: { feed: { type: command, command: [/bin/sh, feed-runs.sh, FILE], interval: 1h } }
[ "$AUTOCTRL_CURSOR" = taken ] && exit 0
cat "$1" && echo '{"cursor":"taken"}'
