"""What has landed in a profile's local connection directory, for the outputs view."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from colablink.errors import UsageError
from colablink.helper.protocol import OutputEntry, OutputsResult
from colablink.local.profiles import Profile


def list_outputs(profile: Profile, subdir: str | None = None) -> OutputsResult:
    base = profile.local_conn_dir
    directory = base
    if subdir:
        relative = PurePosixPath(subdir)
        if relative.is_absolute() or ".." in relative.parts:
            raise UsageError(f"{subdir!r} is not a path inside the connection directory.")
        directory = base.joinpath(*relative.parts)
    entries: list[OutputEntry] = []
    if directory.is_dir():
        for child in sorted(directory.iterdir(), key=lambda p: p.name):
            entry = _entry(base, child)
            if entry is not None:
                entries.append(entry)
    return {"localDir": str(base), "remoteDir": profile.remote_conn_dir, "entries": entries}


def _entry(base: Path, child: Path) -> OutputEntry | None:
    try:
        info = child.lstat()
    except FileNotFoundError:  # removed while listing
        return None
    is_dir = child.is_dir() and not child.is_symlink()
    return {
        "name": child.name,
        "path": child.relative_to(base).as_posix(),
        "kind": "directory" if is_dir else "file",
        "size": 0 if is_dir else info.st_size,
        "mtime": info.st_mtime,
    }
