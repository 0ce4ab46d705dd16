"""The managed ``Host colablink-<profile>`` block in an OpenSSH client config.

Each block sits between two marker lines. Everything outside the markers is foreign text and is
written back byte for byte. The file is replaced atomically (temp file + rename) keeping its mode,
with a ``.bak`` of the previous version. Markers that are duplicated, unterminated or out of order
are reported as errors rather than repaired by guesswork.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
from dataclasses import dataclass
from pathlib import Path

from colablink.errors import ColabLinkError
from colablink.local import paths
from colablink.local.localfiles import write_atomic

BEGIN = "# >>> ColabLink profile {name} >>> (managed by colablink init; edits here are replaced)"
END = "# <<< ColabLink profile {name} <<<"
SERVER_ALIVE_INTERVAL = 15
SERVER_ALIVE_COUNT_MAX = 4

_BEGIN_PREFIX = b"# >>> ColabLink"
_END_PREFIX = b"# <<< ColabLink"
_BEGIN = re.compile(rb"^# >>> ColabLink profile (\S+) >>>.*$")
_END = re.compile(rb"^# <<< ColabLink profile (\S+) <<<\s*$")
_SECTION = re.compile(rb"^\s*(Host|Match)(\s|=)", re.IGNORECASE)


class SshConfigError(ColabLinkError):
    """The ssh config's ColabLink markers are damaged; the user has to look at it."""


@dataclass(frozen=True)
class HostEntry:
    """What goes into one block; every path absolute."""

    name: str
    host: str
    port: int
    username: str
    identity_file: Path
    known_hosts: Path
    # The argv of a program speaking SSH on stdio; None for direct TCP.
    proxy_command: tuple[str, ...] | None = None

    @property
    def alias(self) -> str:
        return f"colablink-{self.name}"


def _quoted_path(path: Path) -> str:
    # OpenSSH expands ``%`` tokens and ``${VAR}`` in these options and cannot escape a double
    # quote, so refuse what it would misread and double the percent signs.
    text = path.absolute().as_posix()
    if '"' in text or "\\" in text or "${" in text or any(ord(c) < 32 for c in text):
        raise ColabLinkError(
            f"The path {text!r} cannot be written into an ssh config; "
            "set COLABLINK_CONFIG_DIR to a plainer directory."
        )
    return '"' + text.replace("%", "%%") + '"'


def _proxy_command_line(argv: tuple[str, ...]) -> str:
    # OpenSSH hands the rest of the line to `sh -c "exec ..."` after expanding `%` tokens: quote
    # each word for the shell, then double the percent signs. A relative program would be looked
    # up on whatever PATH ssh runs with, so only absolute ones are written.
    if not argv or not Path(argv[0]).is_absolute():
        raise ColabLinkError(
            f"The ProxyCommand {argv[:1]!r} must start with an absolute path to be written into "
            "an ssh config."
        )
    if any(ord(c) < 32 for word in argv for c in word):
        raise ColabLinkError("A ProxyCommand with control characters cannot go in an ssh config.")
    return " ".join(shlex.quote(word) for word in argv).replace("%", "%%")


def render_block(entry: HostEntry) -> bytes:
    proxy = (
        []
        if entry.proxy_command is None
        else [f"    ProxyCommand {_proxy_command_line(entry.proxy_command)}"]
    )
    lines = [
        BEGIN.format(name=entry.name),
        f"Host {entry.alias}",
        f"    HostName {entry.host}",
        f"    Port {entry.port}",
        f"    User {entry.username}",
        *proxy,
        f"    IdentityFile {_quoted_path(entry.identity_file)}",
        "    IdentitiesOnly yes",
        f"    UserKnownHostsFile {_quoted_path(entry.known_hosts)}",
        f"    HostKeyAlias {entry.alias}",
        "    StrictHostKeyChecking yes",
        f"    ServerAliveInterval {SERVER_ALIVE_INTERVAL}",
        f"    ServerAliveCountMax {SERVER_ALIVE_COUNT_MAX}",
        END.format(name=entry.name),
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _blocks(lines: list[bytes], path: Path) -> dict[str, tuple[int, int]]:
    """Map each profile name to the (first, last) line index of its block, checking the markers."""
    found: dict[str, tuple[int, int]] = {}
    open_name: str | None = None
    open_at = 0
    for index, raw in enumerate(lines):
        line = raw.rstrip(b"\r\n")
        where = f"{path} line {index + 1}"
        if line.startswith(_BEGIN_PREFIX):
            match = _BEGIN.match(line)
            if match is None:
                raise SshConfigError(f"{where} has a damaged ColabLink marker; fix or remove it.")
            if open_name is not None:
                raise SshConfigError(
                    f"{where} starts a ColabLink block while the one for {open_name!r} from line "
                    f"{open_at + 1} is not closed; fix the markers by hand."
                )
            open_name, open_at = match.group(1).decode("utf-8", "replace"), index
            if open_name in found:
                raise SshConfigError(
                    f"{where} repeats the ColabLink block for {open_name!r}; "
                    "remove one of the copies by hand."
                )
        elif line.startswith(_END_PREFIX):
            match = _END.match(line)
            name = None if match is None else match.group(1).decode("utf-8", "replace")
            if name is None or name != open_name:
                raise SshConfigError(
                    f"{where} closes a ColabLink block that was not opened; "
                    "fix the markers by hand."
                )
            found[name] = (open_at, index)
            open_name = None
    if open_name is not None:
        raise SshConfigError(
            f"{path} line {open_at + 1} opens the ColabLink block for {open_name!r} but nothing "
            "closes it; fix the markers by hand."
        )
    return found


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ColabLinkError(f"Cannot read {path}: {exc.strerror}.") from None


def resolved_path(config: Path) -> Path:
    # Write through a symlinked config (dotfile repos) instead of replacing the link.
    return Path(os.path.realpath(config))


def _replace(path: Path, old: bytes | None, new: bytes) -> None:
    if old is None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(path, new, mode=0o600)
        return
    info = path.stat()
    mode = stat.S_IMODE(info.st_mode)
    write_atomic(path.with_name(path.name + ".bak"), old, mode=mode)
    write_atomic(path, new, mode=mode)
    if hasattr(os, "geteuid") and os.geteuid() == 0 and (info.st_uid, info.st_gid) != (0, 0):
        # Root editing someone's config must leave it theirs, or their ssh refuses it.
        os.chown(path, info.st_uid, info.st_gid)
        os.chown(path.with_name(path.name + ".bak"), info.st_uid, info.st_gid)


def names(config: Path | None = None) -> list[str]:
    """Profiles that have a block in ``config``."""
    path = resolved_path(config or paths.ssh_config_path())
    data = _read(path)
    if data is None:
        return []
    return sorted(_blocks(data.splitlines(keepends=True), path))


def write_block(entry: HostEntry, config: Path | None = None) -> list[str]:
    """Insert or replace ``entry``'s block; return warnings worth showing the user."""
    path = resolved_path(config or paths.ssh_config_path())
    old = _read(path)
    lines = [] if old is None else old.splitlines(keepends=True)
    blocks = _blocks(lines, path)
    block = render_block(entry)
    if entry.name in blocks:
        first, last = blocks[entry.name]
        new_lines = [*lines[:first], block, *lines[last + 1 :]]
    else:
        # Before the first Host/Match section: OpenSSH takes the first value it meets, and text
        # above that point is global options that must stay global.
        inside = _inside(blocks)
        at = next(
            (i for i, line in enumerate(lines) if i not in inside and _SECTION.match(line)),
            len(lines),
        )
        head = lines[:at]
        if head and not head[-1].endswith(b"\n"):
            head[-1] += b"\n"
        new_lines = [*head, block, *lines[at:]]
    new = b"".join(new_lines)
    if new != old:
        _replace(path, old, new)
    return _shadowing(lines, blocks, entry, path)


def _inside(blocks: dict[str, tuple[int, int]]) -> set[int]:
    return {i for first, last in blocks.values() for i in range(first, last + 1)}


def _shadowing(
    lines: list[bytes], blocks: dict[str, tuple[int, int]], entry: HostEntry, path: Path
) -> list[str]:
    inside = _inside(blocks)
    pattern = re.compile(
        rb"^\s*Host\s.*(?<![\w.-])" + re.escape(entry.alias.encode()) + rb"(?![\w.-])"
    )
    return [
        f"{path} line {i + 1} also defines Host {entry.alias} outside ColabLink's block; "
        "ColabLink's block comes first, but consider removing the old entry."
        for i, line in enumerate(lines)
        if i not in inside and pattern.match(line)
    ]


def remove_block(name: str, config: Path | None = None) -> bool:
    """Remove ``name``'s block; return whether there was one."""
    path = resolved_path(config or paths.ssh_config_path())
    old = _read(path)
    if old is None:
        return False
    lines = old.splitlines(keepends=True)
    blocks = _blocks(lines, path)
    if name not in blocks:
        return False
    first, last = blocks[name]
    _replace(path, old, b"".join(lines[:first] + lines[last + 1 :]))
    return True
