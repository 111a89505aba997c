"""autoctrl's job launcher (see src/executors/local/launcher.ts).

Starts job wrappers for the local executor with posix_spawn, which uses
vfork: the launcher's memory is never copied, so a start costs about a
millisecond where Node's fork()+exec costs tens of milliseconds on machines
with expensive page-table copies (VMs). Python only for its os.posix_spawn;
the controller falls back to a Node launcher when python3 is missing.

Protocol: one JSON object per line. In, on stdin:
  {"id", "file", "args", "cwd", "env", "logPath"}
Out, on stdout, per request: {"id", "pid"} or {"id", "error", "code"}; then,
once the process ends, {"id", "exit": <signal name or null>}.
Jobs are started in a session of their own and outlive this process: at the
end of stdin (the controller went away) it exits and leaves them running.
"""

import errno
import json
import os
import signal
import sys
import threading
import time

_out = threading.Lock()
# Held across a spawn and the bookkeeping of its pid, so the reaper never
# meets a pid it does not know yet, and a job's start is told before its end.
_children = threading.Condition()
_live = {}


def send(message):
    line = json.dumps(message) + "\n"
    with _out:
        try:
            sys.stdout.write(line)
            sys.stdout.flush()
        except BrokenPipeError:
            os._exit(0)


def reap():
    while True:
        with _children:
            while not _live:
                _children.wait()
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            continue
        with _children:
            rid = _live.pop(pid, None)
        if rid is None:
            continue
        signalled = os.WIFSIGNALED(status)
        send({"id": rid, "exit": signal.Signals(os.WTERMSIG(status)).name if signalled else None})


def exec_done(pid):
    """Waits until the job's program has its arguments in place.

    posix_spawn returns as soon as the exec begins, while /proc/PID/cmdline is
    still empty, and the controller recognises its jobs by their command line
    (process-info.ts): a status asked at once must not find a nameless process.
    """
    for _ in range(2000):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                if cmdline.read(1):
                    return
            with open(f"/proc/{pid}/stat", "rb") as stat:
                if stat.read().rsplit(b")", 1)[-1].split()[0] == b"Z":
                    return  # ended already: a zombie has no command line either
        except (OSError, IndexError):
            return
        time.sleep(0.0001)


def start(req):
    rid = req["id"]
    log = req["logPath"]
    try:
        os.makedirs(os.path.dirname(log), exist_ok=True)
        os.chdir(req["cwd"])
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ]
        with _children:
            pid = os.posix_spawn(
                req["file"], [req["file"], *req["args"]], req["env"], file_actions=actions, setsid=True
            )
            _live[pid] = rid
            exec_done(pid)
            send({"id": rid, "pid": pid})
            _children.notify()
    except OSError as err:
        code = errno.errorcode.get(err.errno, "") if err.errno else ""
        send({"id": rid, "error": f"{err.strerror or err}: {err.filename or req['file']}", "code": code})


def main():
    threading.Thread(target=reap, daemon=True).start()
    for line in sys.stdin:
        if line.strip():
            start(json.loads(line))


if __name__ == "__main__":
    main()
