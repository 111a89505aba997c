#!/usr/bin/python3 -I
"""The floor of bench/throughput.ts: the same jobs, started with nothing in
between, so a figure can be read against what the machine itself costs.

    spawn-floor.py RUNS TASKS SLOTS LEDGER

Runs RUNS x TASKS times bench/ledger-job.sh (LEDGER in its environment, as
autoctrl runs it), SLOTS at a time, by posix_spawn and a wait: no state, no
files of its own, no scheduling. Task-major order keeps each run's chain in
order: a run's next step starts RUNS - 1 jobs after its previous one did,
which has ended long before whenever RUNS > SLOTS.
"""
import os
import sys

runs, tasks, slots = (int(a) for a in sys.argv[1:4])
env = dict(os.environ, LEDGER=sys.argv[4])
job = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ledger-job.sh")
todo = [(t, r) for t in range(tasks) for r in range(1, runs + 1)]
running = 0
for t, r in todo:
    if running == slots:
        os.wait()
        running -= 1
    os.posix_spawn("/bin/bash", ["bash", job, f"t{t:02d}", str(r)], env)
    running += 1
while running > 0:
    os.wait()
    running -= 1
