"""fork_exit_child.py -- test_fork's helper: a parent that uses herald, forks, and a child that exits normally.

Usage: python3 fork_exit_child.py INGEST CONTROL USER COUNT. The parent
notifies once before the fork (so its sender thread and sockets exist),
the child queues COUNT events and returns from main: the interpreter's
exit must flush them (atexit) without touching the parent's context.
Prints one JSON line per process.
"""
import json
import os
import sys

import herald


def main():
    ingest, control, user, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    herald.configure(ingest=ingest, control=control, linger_ms=5000)
    herald.notify(user, "from", "parent")
    pid = os.fork()
    if pid == 0:
        for n in range(count):
            herald.notify(user, "from", {"child": n})
        print(json.dumps({"who": "child", "stats": herald.stats()}), flush=True)
        return 0    # a normal exit: atexit flushes the child's queue
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"who": "parent", "child_status": os.waitstatus_to_exitcode(status),
                      "after": herald.notify(user, "from", "parent-after")}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
