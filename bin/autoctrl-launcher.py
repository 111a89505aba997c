"""autoctrl's job launcher: the parent of the local executor's jobs (see src/executors/local/launcher.ts).

It starts each job's argv with posix_spawn, which uses vfork: nothing of the
launcher is copied, so a start costs about a millisecond where fork() costs
tens of milliseconds on VMs with expensive page-table copies. Being the jobs'
parent, it learns their exit status from the kernel and records it in the
job's work directory itself, so no shell stays beside each job. Python only
for os.posix_spawn; the controller falls back to a Node launcher when python3
is missing (launcher-main.ts), which does the same.

Protocol: one JSON object per line. In, on stdin:
  {"id", "file", "args", "cwd", "env", "logPath", "workDir", "cgroup" (path or null),
   "slots" (optional: start it only while fewer of this launcher's jobs run)}
Out, on stdout, per request: {"id", "pid"} or {"id", "error", "code"}, after
{"id", "queued": true} when it waited for a slot; then, once the job has
ended and its `exit` file is written,
  {"id", "exit": <status as a shell gives it: 128+N when killed by signal N>,
   "signal": <name or null>, "reason": <the work directory's `reason`, or null>}.

A job waiting for a slot starts the moment another ends, without a round
trip to the controller: that is what lets a stream of short jobs keep every
slot busy. It waits here, not in the controller, so that it is handed over
for good: it starts even if the controller dies meanwhile, and its pid file
("0 0 LAUNCHER") says it is queued to whoever looks. A controller that stops
it before it starts writes its `reason`: it is then not started, and ends
with status 143 (as SIGTERM would end it).

The work directory's `pid` file says "JOBPID JOBSTART LAUNCHERPID LAUNCHERSTART"
(start: field 22 of /proc/PID/stat), so that a reused pid is never taken for
either. It is written before the spawn with JOBPID 0: a launcher that dies
before it records the job leaves a job that reads as lost, never as one that
was not started (which would be started again).

Jobs run in sessions of their own; this process runs in its own too (the
controller starts it detached). At the end of stdin or when stdout breaks
(the controller stopped or was killed), it goes on reaping its jobs and
writing their exit files until none is left, then exits.
"""

import collections
import errno
import json
import os
import signal
import sys
import threading
import time

# dash's own default: what the job's `sh` used when its environment had no PATH.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# A program that cannot be executed is handed to sh's `exec` (no fork), so that it fails as it
# always did under a shell: the message in the job's log, status 127 (not found) or 126.
SHELL_EXEC = ["/bin/sh", "-c", 'exec "$@"', "autoctrl-job"]
EXEC_ERRNOS = {errno.ENOENT, errno.EACCES, errno.ENOEXEC, errno.ENOTDIR, errno.ELOOP, errno.EISDIR}
# Python ignores SIGPIPE (and SIGXFSZ); an ignored signal stays ignored across exec.
DEFAULT_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ)
PID_LINE = 64

_out = threading.Lock()
_stdout_open = True
# Held across a spawn and the bookkeeping of its pid, so the reaper never meets
# a pid it does not know yet, and a job's start is told before its end.
_children = threading.Condition()
_live = {}
# Jobs accepted whose end is not told yet (waiting, running, or their exit file not written
# yet on a full disk): the launcher stays for them.
_recording = 0
# Requests waiting for a slot, oldest first (under `_children`).
_waiting = collections.deque()


def proc_start(pid):
    with open(f"/proc/{pid}/stat", "rb") as stat:
        return int(stat.read().rsplit(b")", 1)[1].split()[19])


SELF = f"{os.getpid()} {proc_start(os.getpid())}"
# The pid file before the job's pid is known, fixed length so that the job's line overwrites it
# in place (no new space needed then).
PENDING = f"0 0 {SELF}".ljust(PID_LINE - 1).encode() + b"\n"


def home_cgroup():
    """This process's cgroup (v2), to come back to after a spawn in a job's cgroup."""
    try:
        with open("/proc/self/cgroup") as f:
            own = next(line[3:].strip() for line in f if line.startswith("0::"))
        with open("/proc/self/mountinfo") as f:
            mount = next(line.split(" ")[4] for line in f if " - cgroup2 " in line)
        return os.path.join(mount, own.lstrip("/"))
    except (OSError, StopIteration):
        return None


HOME = home_cgroup()


def send(message):
    global _stdout_open
    data = (json.dumps(message) + "\n").encode()
    with _out:
        while _stdout_open and data:
            try:
                data = data[os.write(1, data) :]
            except BrokenPipeError:
                # The controller is gone: nobody to tell, the exit files say it all.
                _stdout_open = False


def move_to(cgroup):
    try:
        fd = os.open(os.path.join(cgroup, "cgroup.procs"), os.O_WRONLY)
        try:
            os.write(fd, str(os.getpid()).encode())
        finally:
            os.close(fd)
        return True
    except OSError:
        return False


def remake(cgroup):
    """A job that waited long for its slot may find its (empty) cgroup swept by a controller's start."""
    try:
        os.mkdir(cgroup)
        return True
    except OSError:
        return False


def resolve(file, env, cwd):
    """The program execvp would run, searched in the job's own PATH (posix_spawnp would use ours)."""
    if "/" in file:
        return file
    for folder in env.get("PATH", DEFAULT_PATH).split(":"):
        path = os.path.join(folder or cwd, file)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def spawn(req, actions):
    """Starts the job where it belongs: in its cgroup from its first instruction, when it has one.

    The launcher itself steps into the job's cgroup for the spawn and back out
    (the child is born where its parent is): no process is in between, where a
    shim (sh writing its own pid, then exec) costs one more exec per job, about
    10 ms on this kind of VM, and clone3's CLONE_INTO_CGROUP is out of reach
    from Python without a fork. Under the `_children` lock, so spawns never
    overlap. If the move fails, the job runs in its session only.
    """
    file, args, env = req["file"], req["args"], req["env"]
    path = resolve(file, env, req["cwd"])
    argv = [file, *args] if path is not None else [*SHELL_EXEC, file, *args]
    cgroup = req.get("cgroup")
    moved = cgroup is not None and HOME is not None and (move_to(cgroup) or remake(cgroup) and move_to(cgroup))
    try:
        try:
            return os.posix_spawn(
                path or SHELL_EXEC[0], argv, env, file_actions=actions, setsid=True, setsigdef=DEFAULT_SIGNALS
            )
        except OSError as err:
            if path is None or err.errno not in EXEC_ERRNOS:
                raise
            return os.posix_spawn(
                SHELL_EXEC[0], [*SHELL_EXEC, file, *args], env, file_actions=actions, setsid=True, setsigdef=DEFAULT_SIGNALS
            )
    finally:
        if moved and not move_to(HOME):
            # Left in the job's cgroup, the launcher would be killed with the job's leftovers.
            sys.stderr.write(f"autoctrl-launcher: cannot move back to {HOME}: exiting\n")
            os._exit(3)


def accept(req):
    """Starts the job now, or queues it when its slots are all taken (its pid file says so)."""
    global _recording
    slots = req.get("slots")
    with _children:
        _recording += 1
        if slots is None or (len(_live) < slots and not _waiting):
            start(req)
            return
        try:
            os.close(open_pending(req["workDir"]))
        except OSError as err:
            refuse(req, err)
            return
        _waiting.append(req)
        # Under the lock: told before the reaper can start it.
        send({"id": req["id"], "queued": True})


def start_waiting():
    """Starts waiting jobs while their slots allow (under `_children`); one stopped meanwhile ends unstarted."""
    while _waiting and len(_live) < _waiting[0]["slots"]:
        req = _waiting.popleft()
        if os.path.exists(os.path.join(req["workDir"], "reason")):
            record(req["id"], req["workDir"], 143 << 8)
        else:
            start(req)


def open_pending(work):
    """The pid file with no job yet, left open: a launcher that dies now leaves a lost job, never an
    unstarted one. Not truncated: a waiting job's pending line must never read as no pid file at all."""
    path = os.path.join(work, "pid")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o666)
    try:
        os.pwrite(fd, PENDING, 0)
    except OSError:
        os.close(fd)
        try:
            os.unlink(path)
        except OSError:
            pass
        raise
    return fd


def refuse(req, err):
    """Under `_children`."""
    global _recording
    _recording -= 1
    _children.notify_all()
    code = errno.errorcode.get(err.errno, "") if err.errno else ""
    send({"id": req["id"], "error": f"{err.strerror or err}: {err.filename or req['file']}", "code": code})


def start(req):
    """Under `_children`, so spawns never overlap (each changes this process's directory and cgroup)."""
    rid, log, work = req["id"], req["logPath"], req["workDir"]
    pid_path = os.path.join(work, "pid")
    fd = None
    try:
        os.makedirs(os.path.dirname(log), exist_ok=True)
        os.chdir(req["cwd"])
        fd = open_pending(work)
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ]
        pid = spawn(req, actions)
        _live[pid] = (rid, work)
        try:
            os.pwrite(fd, f"{pid} {proc_start(pid)} {SELF}".ljust(PID_LINE - 1).encode() + b"\n", 0)
        except OSError:
            pass  # read as "not recorded": the job ends as lost, never started twice
        send({"id": rid, "pid": pid})
        _children.notify_all()
    except OSError as err:
        if fd is not None:
            try:
                os.unlink(pid_path)
            except OSError:
                pass
        refuse(req, err)
    finally:
        if fd is not None:
            os.close(fd)


def write_exit(work, code):
    """`exit` appears whole (tmp + rename); false when it cannot be written now (a full disk)."""
    tmp = os.path.join(work, "exit.tmp")
    try:
        with open(tmp, "w") as f:
            f.write(f"{code}\n")
        os.rename(tmp, os.path.join(work, "exit"))
        return True
    except OSError:
        return False


def record(rid, work, status):
    code = os.waitstatus_to_exitcode(status)
    sig = signal.Signals(-code).name if code < 0 else None
    code = 128 - code if code < 0 else code
    if write_exit(work, code) or not os.path.isdir(work):
        tell(rid, work, code, sig)
    else:
        # Not in the reaper: the other jobs' ends must not wait for this disk.
        threading.Thread(target=record_later, args=(rid, work, code, sig), daemon=True).start()


def record_later(rid, work, code, sig):
    """Tried every second while the work directory exists: the job looks running until then, not lost."""
    while os.path.isdir(work) and not write_exit(work, code):
        time.sleep(1)
    tell(rid, work, code, sig)


def tell(rid, work, code, sig):
    global _recording
    try:
        with open(os.path.join(work, "reason")) as f:
            reason = f.read().strip()
    except OSError:
        reason = None
    send({"id": rid, "exit": code, "signal": sig, "reason": reason})
    with _children:
        _recording -= 1
        _children.notify_all()


def reap():
    while True:
        with _children:
            while not _live:
                _children.wait()
        try:
            # Peeked, not reaped: the zombie keeps its pid (and group id) ours until the group is killed.
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:
            continue
        if info is None:
            continue
        with _children:
            pid = info.si_pid
            try:
                # What the job left in its session's group dies with it, as it always did.
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
            _, status = os.waitpid(pid, 0)
            job = _live.pop(pid, None)
            # The next job starts before this one's end is written and told: its slot is free now.
            start_waiting()
        if job is not None:
            record(job[0], job[1], status)


def main():
    threading.Thread(target=reap, daemon=True).start()
    for line in sys.stdin:
        if line.strip():
            accept(json.loads(line))
    # The controller went away: its jobs still need their exit files.
    with _children:
        while _recording > 0:
            _children.wait()
    os._exit(0)


if __name__ == "__main__":
    main()
