"""Runs on the runtime as the Jupyter kernel: the runtime's own ``python3`` with ipykernel.

The kernelspec ``jupyter_env.py`` writes starts ``python3 kernel_launcher.py [--site DIR]... -f
CONNECTION_FILE``. Each ``--site`` directory (the private venv's site-packages, where ipykernel
lives when ``python3`` lacks it) is appended to ``sys.path``, after the user's own packages, so
those win; then ipykernel starts as ``python -m ipykernel_launcher`` would. Python 3.8 compatible.
"""

from __future__ import annotations

# ruff: noqa: PTH100, PTH120
import logging
import os
import site
import sys

# The kernel's name in /proc/PID/comm (15 bytes at most): the editor's port list leaves out the
# kernel's own ZMQ sockets by it.
PROCESS_NAME = b"colablink-kern"


def name_process() -> None:
    try:
        import ctypes

        ctypes.CDLL(None).prctl(15, PROCESS_NAME, 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass  # not Linux: the name only tidies the port list


def main() -> None:
    name_process()
    args = sys.argv[1:]
    while len(args) >= 2 and args[0] == "--site":
        site.addsitedir(args[1])  # appends, and reads the directory's .pth files
        args = args[2:]
    # Running a file put this folder first on the path; a kernel's path starts at its cwd.
    if sys.path and sys.path[0] == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]
    sys.argv = ["ipykernel_launcher", *args]
    # Its ports are on the runtime's loopback and every message is signed with the connection
    # file's key (0600): the warning about plain TCP, on every start, would only be noise.
    logging.getLogger("IPKernelApp").addFilter(
        lambda record: "without encryption" not in str(record.msg)
    )
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
