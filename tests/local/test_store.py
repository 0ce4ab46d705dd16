"""Profiles, keys and ColabLink's known_hosts file on disk."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import paramiko
import pytest
from colablink.cli.init import choose_profile
from colablink.errors import ColabLinkError, UnknownProfile, UsageError
from colablink.local import keys, knownhosts, paths
from colablink.local.profiles import Profile, ProfileStore

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMmghFvwU56eGdiWHGNwjbEexi758R6WZ6Oy2NEuKKFq"


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COLABLINK_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path / "config"


def sample(name: str, project: Path) -> Profile:
    return Profile(
        name=name,
        host="127.0.0.1",
        port=2222,
        username="colablink",
        remote_root="/content",
        remote_dir="connection_abc123",
        local_dir="out",
        project_root=project,
        key_path=paths.keys_dir() / name,
        host_keys=[HOST_KEY],
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_profile_round_trip_private_files(config_dir: Path, tmp_path: Path) -> None:
    store = ProfileStore()
    profile = sample("train", tmp_path)
    store.save(profile)
    assert store.load("train") == profile
    assert profile.remote_conn_dir == "/content/connection_abc123"
    assert profile.local_conn_dir == tmp_path / "out"
    assert profile.ssh_alias == "colablink-train"
    assert mode(config_dir) == 0o700
    assert mode(config_dir / "profiles") == 0o700
    assert mode(config_dir / "profiles" / "train.json") == 0o600
    store.delete("train")
    assert store.names() == []


def test_resolve_rules(tmp_path: Path) -> None:
    store = ProfileStore()
    with pytest.raises(UsageError, match="colablink init"):
        store.resolve(None)
    with pytest.raises(UnknownProfile, match="no profile named 'x'"):
        store.resolve("x")
    store.save(sample("one", tmp_path))
    assert store.resolve(None).name == "one", "the only profile is the default"
    store.save(sample("two", tmp_path))
    with pytest.raises(UsageError, match="several profiles"):
        store.resolve(None)
    with pytest.raises(UnknownProfile, match="known profiles: one, two"):
        store.resolve("three")
    for bad in ("../x", "", "a b", ".hidden", "x" * 65):
        with pytest.raises(UsageError):
            store.resolve(bad)


def test_damaged_profile_is_one_sentence(config_dir: Path, tmp_path: Path) -> None:
    store = ProfileStore()
    store.save(sample("one", tmp_path))
    (config_dir / "profiles" / "one.json").write_text("{not json")
    with pytest.raises(ColabLinkError, match="damaged"):
        store.load("one")


def test_init_picks_the_only_profile_of_this_project(tmp_path: Path) -> None:
    assert choose_profile(None, tmp_path) == "default"
    ProfileStore().save(sample("mine", tmp_path))
    assert choose_profile(None, tmp_path) == "mine"
    assert choose_profile(None, tmp_path / "elsewhere") == "default"
    assert choose_profile("given", tmp_path) == "given"


def test_generated_key_is_openssh_format_private_and_usable(tmp_path: Path) -> None:
    key = tmp_path / "k"
    line = keys.generate_keypair(key, "colablink-t")
    assert key.read_bytes().startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----")
    assert mode(key) == 0o600 and mode(keys.public_key_path(key)) == 0o600
    derived = subprocess.run(
        ["ssh-keygen", "-y", "-f", str(key)], capture_output=True, text=True, check=True
    )
    assert derived.stdout.split() == line.split()[:2]
    assert paramiko.Ed25519Key.from_private_key_file(str(key)).get_base64() == line.split()[1]
    assert keys.public_line(key) == keys.key_blob(line)
    listed = subprocess.run(
        ["ssh-keygen", "-lf", str(keys.public_key_path(key))],
        capture_output=True,
        text=True,
        check=True,
    )
    assert listed.stdout.split()[1] == keys.fingerprint(line)
    keys.delete_keypair(key)
    assert not key.exists() and not keys.public_key_path(key).exists()


def test_unusable_identity_is_one_sentence(tmp_path: Path) -> None:
    bogus = tmp_path / "id"
    bogus.write_text("not a key")
    with pytest.raises(ColabLinkError, match="not an unencrypted SSH private key"):
        keys.public_line(bogus)


def test_known_hosts_lines_per_alias(tmp_path: Path) -> None:
    path = tmp_path / "kh"
    path.write_bytes(b"# mine\nother-host ssh-ed25519 AAAA")  # no final newline
    knownhosts.set_keys("colablink-a", ["ssh-ed25519 AAA1", "ecdsa-sha2-nistp256 AAA2"], path)
    knownhosts.set_keys("colablink-b", ["ssh-ed25519 BBB1"], path)
    knownhosts.set_keys("colablink-a", ["ssh-ed25519 AAA3"], path)
    assert path.read_text().splitlines() == [
        "# mine",
        "other-host ssh-ed25519 AAAA",
        "colablink-b ssh-ed25519 BBB1",
        "colablink-a ssh-ed25519 AAA3",
    ]
    assert knownhosts.keys_for("colablink-a", path) == ["ssh-ed25519 AAA3"]
    assert mode(path) == 0o600
    assert knownhosts.remove("colablink-a", path)
    assert not knownhosts.remove("colablink-a", path)
    assert "colablink-a" not in path.read_text()


def test_user_known_hosts_lookup_handles_ports_and_hashing(tmp_path: Path) -> None:
    key = tmp_path / "hostkey"
    line = keys.generate_keypair(key, "h")
    path = tmp_path / "known_hosts"
    path.write_text(f"[gpu.lab]:2222 {keys.key_blob(line)}\n")
    assert knownhosts.user_known_keys("gpu.lab", 2222, path) == [keys.key_blob(line)]
    assert knownhosts.user_known_keys("gpu.lab", 22, path) == []
    subprocess.run(["ssh-keygen", "-H", "-f", str(path)], capture_output=True, check=True)
    assert "gpu.lab" not in path.read_text()
    assert knownhosts.user_known_keys("gpu.lab", 2222, path) == [keys.key_blob(line)]


def test_runtime_dir_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLABLINK_RUNTIME_DIR", str(tmp_path / "run" / "colablink"))
    path = paths.runtime_dir()
    assert mode(path) == 0o700
    os.chmod(path, 0o755)
    assert mode(paths.runtime_dir()) == 0o700


def test_transport_round_trip_and_old_profiles_dial_directly(tmp_path: Path) -> None:
    store = ProfileStore()
    proxied = sample("colab", tmp_path)
    proxied.proxy_command = ("/opt/colab cli/bin/colab", "ssh", "--proxy-mode", "-s", "t")
    store.save(proxied)
    assert store.load("colab") == proxied
    # A profile written before transports existed has no "transport" key.
    old = sample("old", tmp_path).to_dict()
    del old["transport"]
    store.path_of("old").write_text(json.dumps(old))
    assert store.load("old").proxy_command is None
    damaged = {**old, "transport": {"kind": "carrier-pigeon"}}
    store.path_of("old").write_text(json.dumps(damaged))
    with pytest.raises(ColabLinkError, match="damaged"):
        store.load("old")
