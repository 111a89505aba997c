#!/usr/bin/env bash
# The newcomer's path, scripted: a fresh clone, the README's two commands, and
# the demo must bring its first runs to `done` within a minute.
# `npm test` is the suite this script is called after (by .ci/run), so here only
# the first command is replayed, on a clone of the committed tree.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
demo_pid=
cleanup() {
  [ -n "$demo_pid" ] && kill "$demo_pid" 2>/dev/null || true
  # Demo jobs are detached from the daemon: end any still running.
  pkill -f "$work/" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

git clone -q "$repo" "$work/autoctrl"
cd "$work/autoctrl"
echo "newcomer: npm install (fresh clone)"
npm install --no-audit --no-fund --loglevel=error >/dev/null
echo "newcomer: npx autoctrl demo"
npx autoctrl demo --dir "$work/demo" --port 0 >"$work/demo.out" 2>&1 &
demo_pid=$!

start=$(date +%s)
while :; do
  now=$(date +%s)
  if [ -f "$work/demo/autoctrl.yaml" ]; then
    done_runs=$(npx autoctrl status --json -c "$work/demo/autoctrl.yaml" 2>/dev/null |
      node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).rows.filter(r=>r.status==="done").length)}catch{console.log(0)}})')
    if [ "${done_runs:-0}" -gt 0 ]; then
      echo "newcomer: first run done after $((now - start)) s ($done_runs done)"
      grep -m1 'overview page' "$work/demo.out" || true
      exit 0
    fi
  fi
  if [ $((now - start)) -gt 60 ]; then
    echo "newcomer: no run reached done within 60 s" >&2
    cat "$work/demo.out" >&2
    npx autoctrl status -c "$work/demo/autoctrl.yaml" >&2 || true
    exit 1
  fi
  sleep 2
done
