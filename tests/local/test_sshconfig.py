"""The ssh config writer: foreign text byte for byte, blocks replaced in place, markers checked."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from colablink.local import knownhosts, sshconfig
from colablink.local.sshconfig import HostEntry, SshConfigError
from support.runtimes import RuntimeHandle

BRIDGE = Path(__file__).resolve().parents[1] / "support" / "stdio_bridge.py"

FOREIGN_HEAD = b"# my settings\r\nAddKeysToAgent yes\n\n"
FOREIGN_TAIL = b"Host gpu-box\n  HostName 10.0.0.5   \n\tUser  me\nMatch host *.corp\n  Port 2222"


def entry(name: str, tmp_path: Path, port: int = 2200, host: str = "127.0.0.1") -> HostEntry:
    return HostEntry(
        name=name,
        host=host,
        port=port,
        username="colablink",
        identity_file=tmp_path / "conf dir" / "keys" / f"{name}_ed25519",
        known_hosts=tmp_path / "conf dir" / "known_hosts",
    )


def ssh_g(config: Path, alias: str) -> dict[str, str]:
    out = subprocess.run(
        ["ssh", "-G", "-F", str(config), alias], capture_output=True, text=True, check=True
    ).stdout
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def test_new_file_is_private_and_parsed_by_openssh(tmp_path: Path) -> None:
    config = tmp_path / "dot ssh" / "config"
    sshconfig.write_block(entry("a", tmp_path), config)
    assert (os.stat(config).st_mode & 0o777) == 0o600
    assert (os.stat(config.parent).st_mode & 0o777) == 0o700
    seen = ssh_g(config, "colablink-a")
    assert seen["hostname"] == "127.0.0.1"
    assert seen["port"] == "2200"
    assert seen["user"] == "colablink"
    assert seen["identityfile"] == str(tmp_path / "conf dir" / "keys" / "a_ed25519")
    assert seen["userknownhostsfile"] == str(tmp_path / "conf dir" / "known_hosts")
    assert seen["hostkeyalias"] == "colablink-a"
    assert seen["stricthostkeychecking"] == "true"
    assert seen["identitiesonly"] == "yes"
    assert seen["serveraliveinterval"] == str(sshconfig.SERVER_ALIVE_INTERVAL)
    assert "~" not in config.read_text()


def test_foreign_text_kept_byte_for_byte(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_bytes(FOREIGN_HEAD + FOREIGN_TAIL)
    config.chmod(0o644)
    sshconfig.write_block(entry("a", tmp_path), config)
    sshconfig.write_block(entry("b", tmp_path, port=2300), config)
    data = config.read_bytes()
    # Inserted after the global options, before the first Host section.
    assert data.startswith(FOREIGN_HEAD + b"# >>> ColabLink profile a >>>")
    assert data.endswith(b"# <<< ColabLink profile b <<<\n" + FOREIGN_TAIL)
    assert (os.stat(config).st_mode & 0o777) == 0o644, "mode kept"
    assert ssh_g(config, "colablink-a")["port"] == "2200"
    assert ssh_g(config, "colablink-b")["port"] == "2300"
    assert ssh_g(config, "gpu-box")["hostname"] == "10.0.0.5"
    sshconfig.remove_block("a", config)
    sshconfig.remove_block("b", config)
    assert config.read_bytes() == FOREIGN_HEAD + FOREIGN_TAIL


def test_reinit_replaces_only_its_block_and_keeps_backup(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_bytes(FOREIGN_TAIL)
    sshconfig.write_block(entry("a", tmp_path), config)
    sshconfig.write_block(entry("b", tmp_path), config)
    before = config.read_bytes()
    b_block = before[before.index(b"# >>> ColabLink profile b") :]
    sshconfig.write_block(entry("a", tmp_path, port=4000, host="5.tcp.ngrok.io"), config)
    after = config.read_bytes()
    assert Path(str(config) + ".bak").read_bytes() == before
    assert after.endswith(b_block), "profile b and the foreign text are untouched"
    assert after.count(b"Host colablink-a\n") == 1
    assert ssh_g(config, "colablink-a")["hostname"] == "5.tcp.ngrok.io"
    assert ssh_g(config, "colablink-a")["port"] == "4000"
    assert ssh_g(config, "colablink-b")["port"] == "2200"
    assert sshconfig.names(config) == ["a", "b"]


def test_append_when_no_sections_and_symlink_kept(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "ssh_config"
    real.parent.mkdir()
    real.write_bytes(b"ServerAliveInterval 60\n")
    link = tmp_path / "config"
    link.symlink_to(real)
    sshconfig.write_block(entry("a", tmp_path), link)
    assert link.is_symlink()
    assert real.read_bytes().startswith(b"ServerAliveInterval 60\n# >>> ColabLink profile a")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (b"# >>> ColabLink profile a >>>\nHost x\n# <<< ColabLink profile a <<<\n" * 2, "repeats"),
        (b"Host y\n# >>> ColabLink profile a >>>\nHost colablink-a\n", "nothing closes it"),
        (b"# <<< ColabLink profile a <<<\n", "not opened"),
        (b"# >>> ColabLink profile a >>>\n# >>> ColabLink profile b >>>\n", "not closed"),
        (b"# >>> ColabLink profile\n", "damaged"),
    ],
)
def test_damaged_markers_are_errors_and_nothing_is_written(
    tmp_path: Path, text: bytes, words: str
) -> None:
    config = tmp_path / "config"
    config.write_bytes(text)
    with pytest.raises(SshConfigError, match=words):
        sshconfig.write_block(entry("a", tmp_path), config)
    with pytest.raises(SshConfigError):
        sshconfig.remove_block("a", config)
    assert config.read_bytes() == text
    assert not Path(str(config) + ".bak").exists()


def test_old_unmanaged_entry_is_reported(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_bytes(b"Host colablink-a other\n  StrictHostKeyChecking no\n")
    warnings = sshconfig.write_block(entry("a", tmp_path), config)
    assert len(warnings) == 1 and "line 1" in warnings[0]
    assert ssh_g(config, "colablink-a")["stricthostkeychecking"] == "true"


def test_percent_doubled_and_unwritable_paths_refused(tmp_path: Path) -> None:
    config = tmp_path / "config"
    odd = HostEntry("a", "h", 22, "u", tmp_path / "50%" / "key", tmp_path / "kh")
    sshconfig.write_block(odd, config)
    # OpenSSH expands % tokens in IdentityFile when it loads the key; ``%%`` is a literal %.
    assert ssh_g(config, "colablink-a")["identityfile"] == str(tmp_path / "50%%" / "key")
    bad = HostEntry("b", "h", 22, "u", tmp_path / 'q"uote' / "key", tmp_path / "kh")
    with pytest.raises(sshconfig.ColabLinkError, match="cannot be written"):
        sshconfig.write_block(bad, config)
    assert sshconfig.names(config) == ["a"]


def test_proxy_command_line_reaches_the_runtime_with_openssh(
    runtime: RuntimeHandle, tmp_path: Path
) -> None:
    # The bridge sits under a path with a space, a % token and a shell variable: OpenSSH must
    # run it as written, through `sh -c` after its own % expansion.
    where = tmp_path / "bin 50%h $HOME"
    where.mkdir()
    script = where / "bridge.py"
    shutil.copy(BRIDGE, script)
    pidfile = tmp_path / "bridge.pid"
    known_hosts = tmp_path / "known_hosts"
    knownhosts.set_keys("colablink-p", runtime.host_keys, known_hosts)
    proxy = (sys.executable, str(script), runtime.host, str(runtime.port), str(pidfile))
    # HostName and Port point nowhere: only the ProxyCommand can reach the runtime.
    config = tmp_path / "config"
    sshconfig.write_block(
        HostEntry("p", "192.0.2.1", 9, runtime.username, runtime.client_key, known_hosts, proxy),
        config,
    )
    done = subprocess.run(
        ["ssh", "-F", str(config), "-o", "BatchMode=yes", "colablink-p", "echo through"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, "through\n"), done.stderr
    assert pidfile.is_file()


def test_proxy_command_must_be_absolute(tmp_path: Path) -> None:
    relative = HostEntry("r", "h", 22, "u", tmp_path / "k", tmp_path / "kh", ("colab", "ssh"))
    with pytest.raises(sshconfig.ColabLinkError, match="absolute path"):
        sshconfig.write_block(relative, tmp_path / "config")
