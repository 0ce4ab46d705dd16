"""A ProxyCommand for tests: ``stdio_bridge.py HOST PORT PIDFILE [hold]`` carries stdio over TCP.

It writes its pid first, so a test can see that whoever started it also ended it. With ``hold``
it does not pass stdin's EOF on (like ``colab ssh``), so only a signal ends it; it has no SIGHUP
handler, so SIGHUP ends it as it ends most ProxyCommands.
"""

from __future__ import annotations

import os
import socket
import sys
import threading


def main() -> None:
    host, port, pidfile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    hold = sys.argv[4:] == ["hold"]
    with open(pidfile, "w") as f:
        f.write(str(os.getpid()))
    sock = socket.create_connection((host, port))

    def up() -> None:
        while data := os.read(0, 65536):
            sock.sendall(data)
        if not hold:
            sock.shutdown(socket.SHUT_WR)

    threading.Thread(target=up, daemon=True).start()
    while data := sock.recv(65536):
        os.write(1, data)


if __name__ == "__main__":
    main()
