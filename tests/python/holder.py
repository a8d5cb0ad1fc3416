"""Helper process for the tests: take a lock through octostored and hold it until killed.

usage: holder.py SOCKET NAME MODE   (MODE: hold, forkhold, forkuse)
  hold      lock NAME and print "held"
  forkhold  lock NAME, fork a child that sleeps; print "held CHILDPID"
  forkuse   lock NAME, fork a child that pings on its own connection and reports
            "child ok LOST_REASON CONNECTIONS" ; the parent prints "held CHILDPID"
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "client", "python"))
import octostored  # noqa: E402

sock, name, mode = sys.argv[1:4]
c = octostored.OctoStoreClient(sock, timeout=10)
with c.lock(name, ttl=30) as lease:
    if mode == "hold":
        print("held", flush=True)
    else:
        pid = os.fork()
        if pid == 0:
            if mode == "forkuse":
                c.ping()
                st = c.daemon_status()
                print("child", "ok" if c.ping("c") == "c" else "bad", lease.lost_reason,
                      st["connections"], flush=True)
            time.sleep(3600)
            os._exit(0)
        print("held", pid, flush=True)
    time.sleep(3600)
