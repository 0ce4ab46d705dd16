"""A runtime that sends any tar stream it likes: a download never writes outside its target.

The attacker is the runtime user: a ``tar`` function in ``~/.bashrc`` answers every pack with a
crafted stream (links out of the copy, writes through them, ``..``, foreign top names, hard links
to local files, a link chain that leaves only when the kernel resolves it, fifos, devices).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shlex
import stat
import tarfile
from pathlib import Path

import pytest
from colablink.ssh import transfer
from colablink.ssh.session import Session
from support.runtimes import RuntimeHandle


def crafted_stream(victim: Path) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:

        def add(
            name: str, kind: bytes, data: bytes = b"", link: str = "", mode: int = 0o644
        ) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.size, info.mode = kind, link, len(data), mode
            tar.addfile(info, io.BytesIO(data) if data else None)

        add("x", tarfile.DIRTYPE, mode=0o755)
        add("x/ok.txt", tarfile.REGTYPE, b"fine", mode=0o4777)
        add("x/" + "/".join(["d" * 60] * 6) + "/deep.txt", tarfile.REGTYPE, b"deep")
        add("x/home", tarfile.SYMTYPE, link=str(victim))
        add("x/home/pwned", tarfile.REGTYPE, b"EVIL")
        add("x/up", tarfile.SYMTYPE, link="../..")
        add("x/up/pwned", tarfile.REGTYPE, b"EVIL")
        add("x/../pwned", tarfile.REGTYPE, b"EVIL")
        add(str(victim / "abs"), tarfile.REGTYPE, b"EVIL")
        add("other/pwned", tarfile.REGTYPE, b"EVIL")
        add("x/hard", tarfile.LNKTYPE, link=str(victim / "secret"))
        add("x/hard", tarfile.REGTYPE, b"EVIL")
        # Lexically inside, but l1 resolves two levels up from d1/d2: l2 would climb out.
        add("x/d1/d2/l1", tarfile.SYMTYPE, link="../..")
        add("x/d1/d2/l2", tarfile.SYMTYPE, link="l1/../../victim")
        add("x/d1/d2/l1/through", tarfile.REGTYPE, b"EVIL")
        add("x/fifo", tarfile.FIFOTYPE)
        add("x/dev", tarfile.CHRTYPE)
    return out.getvalue()


def digest(base: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(base):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            found[str(path.relative_to(base))] = (
                hashlib.sha256(path.read_bytes()).hexdigest()
                if stat.S_ISREG(st.st_mode)
                else oct(st.st_mode)
            )
    return found


def test_a_crafted_stream_writes_nothing_outside_the_target(
    session: Session, runtime: RuntimeHandle, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "secret").write_text("mine")
    session.run(["mkdir", "-p", f"{runtime.remote_root}/results"])
    evil = f"{runtime.remote_root}/.evil.tar"
    session.run(f"cat > {shlex.quote(evil)}", stdin=crafted_stream(victim))
    # The attacker's ~/.bashrc (first, before Debian's non-interactive return): every tar the
    # runtime runs now prints the crafted stream.
    bashrc = f"tar() {{ cat {shlex.quote(evil)}; }}"
    session.run(f"{{ echo {shlex.quote(bashrc)}; cat ~/.bashrc; }} > ~/.rc && mv ~/.rc ~/.bashrc")
    before = digest(tmp_path)
    caplog.set_level(logging.WARNING)

    landed = transfer.download(session, "results", tmp_path / "down", root=runtime.remote_root)

    assert landed == tmp_path / "down"
    changed = {rel for rel, d in digest(tmp_path).items() if before.get(rel) != d}
    assert changed and all(rel.startswith("down") for rel in changed), changed
    assert (victim / "secret").read_text() == "mine" and sorted(os.listdir(victim)) == ["secret"]
    assert (landed / "ok.txt").read_text() == "fine"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((landed / "ok.txt").stat().st_mode) == 0o777 & ~umask  # no setuid
    assert (landed.joinpath(*["d" * 60] * 6) / "deep.txt").read_text() == "deep"
    assert os.readlink(landed / "d1" / "d2" / "l1") == "../.."
    for link in ("home", "up"):  # its files landed in a plain directory inside the copy
        assert not (landed / link).is_symlink(), link
    for gone in ("d1/d2/l2", "d1/d2/l1/through", "fifo", "dev"):
        assert not os.path.lexists(landed / gone), gone
    assert not (landed / "hard").exists() or (landed / "hard").read_bytes() == b"EVIL"
    assert (landed / "hard").stat().st_nlink == 1
    for reported in ("home: a link pointing outside", "up:", "d1/d2/l2:", "fifo:", "dev:"):
        assert f"Skipped {reported}" in caplog.text, reported
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".colablink")] == []
