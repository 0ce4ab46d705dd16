"""Start a standard-library Python program on the runtime without installing anything there.

The program's source travels, length-prefixed, over the exec channel's stdin, so the runtime needs
neither a file nor a long command line (which ``ps`` would show); its ``main()`` then serves on the
same stdin and stdout. Used for the sync agent and the run supervisor.
"""

from __future__ import annotations


def _bootstrap(name: str) -> str:
    """The shell line that runs a program sent as source, named ``name`` in tracebacks and in
    its ``__name__``. Without site: the programs need only the standard library, and no
    site-packages or their .pth files (many on a Colab runtime) are read on every connect."""
    return (
        "python3 -Sc 'import sys;b=sys.stdin.buffer;n=int(b.readline());"
        f'g={{"__name__":"colablink_{name}"}};exec(compile(b.read(n),"colablink-{name}","exec"),g);'
        'g["main"]()\''
    )


BOOTSTRAP = _bootstrap("agent")
# The run supervisor's front, which then reads the supervisor's source and a config line from
# the same stdin; its start-up is on every cold command's path.
FRONT_BOOTSTRAP = _bootstrap("front")


def framed_source(source: bytes) -> bytes:
    """What to write first to a channel started with ``BOOTSTRAP``."""
    return str(len(source)).encode() + b"\n" + source
