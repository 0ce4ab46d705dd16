"""Start a standard-library Python program on the runtime without installing anything there.

The program's source travels, length-prefixed, over the exec channel's stdin, so the runtime needs
neither a file nor a long command line (which ``ps`` would show); its ``main()`` then serves on the
same stdin and stdout. Used for the sync agent and the run supervisor.
"""

from __future__ import annotations

# The sync agent needs only the standard library: without site, no site-packages and none of
# their .pth files (many on a Colab runtime) are read on every connect.
BOOTSTRAP = (
    "python3 -Sc 'import sys;b=sys.stdin.buffer;n=int(b.readline());"
    'g={"__name__":"colablink_agent"};exec(compile(b.read(n),"colablink-agent","exec"),g);'
    'g["main"]()\''
)

# The run supervisor's front: without site (its start-up is on every cold command's path). The
# front then reads the supervisor's source and a config line from the same stdin.
FRONT_BOOTSTRAP = (
    "python3 -Sc 'import sys;b=sys.stdin.buffer;n=int(b.readline());"
    'g={"__name__":"colablink_front"};exec(compile(b.read(n),"colablink-front","exec"),g);'
    'g["main"]()\''
)


def framed_source(source: bytes) -> bytes:
    """What to write first to a channel started with ``BOOTSTRAP``."""
    return str(len(source)).encode() + b"\n" + source
