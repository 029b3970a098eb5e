"""Runs a command and prints, on its last line, the CPU time the command's
own process used (all its threads, not its children: the engines) and the
wall time: "cpu_s wall_s". The process is waited for without being reaped
(waitid WNOWAIT), so that its /proc/PID/stat still holds its final times.

    python3 measure.py CMD [ARG...]
"""

import os
import subprocess
import sys
import time


def main():
    began = time.monotonic()
    child = subprocess.Popen(sys.argv[1:])
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
    wall = time.monotonic() - began
    with open(f"/proc/{child.pid}/stat") as stat:
        # Fields after the command's ")": utime and stime are the 12th and 13th.
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    code = child.wait()
    print(f"{cpu:.3f} {wall:.3f}")
    sys.exit(code)


if __name__ == "__main__":
    main()
