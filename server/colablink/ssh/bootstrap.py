"""Start a standard-library Python program on the runtime without installing anything there.

The program's source travels, length-prefixed, over the exec channel's stdin, so the runtime needs
neither a file nor a long command line (which ``ps`` would show); its ``main()`` then serves on the
same stdin and stdout. Used for the sync agent and the run supervisor.
"""

from __future__ import annotations

BOOTSTRAP = (
    "python3 -c 'import sys;b=sys.stdin.buffer;n=int(b.readline());"
    'g={"__name__":"colablink_agent"};exec(compile(b.read(n),"colablink-agent","exec"),g);'
    'g["main"]()\''
)

# The same, leaving the source in the program's globals as ``SOURCE``: the run supervisor hands it
# to the fresh interpreter it starts in its own session.
BOOTSTRAP_KEEPING_SOURCE = (
    "python3 -c 'import sys;b=sys.stdin.buffer;n=int(b.readline());s=b.read(n);"
    'g={"__name__":"colablink_agent","SOURCE":s};exec(compile(s,"colablink-agent","exec"),g);'
    'g["main"]()\''
)


def framed_source(source: bytes) -> bytes:
    """What to write first to a channel started with ``BOOTSTRAP``."""
    return str(len(source)).encode() + b"\n" + source
