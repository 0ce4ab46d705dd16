"""How long running a command takes: ColabLink next to OpenSSH, on loopback and at 40 ms RTT.

    .venv/bin/python bench/exec_latency.py [--runs N]

Starts its own runtime (root mode as root, else user mode), writes a profile and an OpenSSH
config for it in a temporary directory, and measures, side by side:

- cold: ``colablink exec true`` with no agent vs ``ssh host true``;
- warm: ``colablink exec true`` through a running agent vs ``ssh`` through a ControlMaster;
- in-process: ``LocalClient.execute(["true"])`` on a live connection.

Then everything again through ``bench.delay_proxy`` at 40 ms round-trip time. Then, when Google's
``colab`` client is installed (``--colab-cli``, default: the test bed's cached one), Colab's channel
through the loopback stand-in of its ``/colab/ssh`` endpoint (``tests/colab/standin.py``):
``ssh`` with ``colab ssh --proxy-mode`` as ProxyCommand, and ``ssh`` through ``colablink proxy``
riding a running agent's connection, each against plain ``ssh host true`` in the same run. Medians.
"""

from __future__ import annotations

import argparse
import os
import pwd
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "server"), str(ROOT / "colab")]

from colablink.client import LocalClient  # noqa: E402
from colablink.local import keys  # noqa: E402
from colablink.local.profiles import Profile, ProfileStore  # noqa: E402
from colablink_runtime import ColabRuntime  # noqa: E402

from bench.delay_proxy import DelayProxy  # noqa: E402

sys.path.insert(0, str(ROOT / "tests"))
from colab.standin import SESSION, TOKEN, endpoint, write_client_home  # noqa: E402

# The installed command, as users run it (``-m`` would add runpy's imports).
_SCRIPT = Path(sys.executable).with_name("colablink")
COLABLINK = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "colablink"]
ALIAS = "colablink-bench"
RTT_DELAY_S = 0.020  # each way: 40 ms round trip


@dataclass
class Row:
    what: str
    ours: float
    theirs: float | None
    reference: str
    target: float | None


def paired_ms(
    ours: Callable[[], object], theirs: Callable[[], object], runs: int
) -> tuple[float, float]:
    """Medians of both, run alternately so that both meet the same machine load."""
    times: tuple[list[float], list[float]] = ([], [])
    for action in (ours, theirs, ours, theirs):  # warm-up
        action()
    for _ in range(runs):
        for action, into in ((ours, times[0]), (theirs, times[1])):
            started = time.perf_counter()
            action()
            into.append((time.perf_counter() - started) * 1000)
    return statistics.median(times[0]), statistics.median(times[1])


def median_ms(action: Callable[[], object], runs: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        action()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def run_quiet(argv: list[str], env: dict[str, str]) -> None:
    # No input for either side (as `ssh -n`): a never-closing stdin would hold the channel open.
    result = subprocess.run(
        argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {result.stderr.decode()[-500:]}")


@contextmanager
def runtime(base: Path, public_key: str) -> Iterator[dict[str, object]]:
    """A runtime of our own: a dedicated user as root, else the current user on a high port."""
    remote_root = base / "work"
    port = free_port()
    if os.geteuid() == 0:
        rt = ColabRuntime(
            username=f"clbench{secrets.token_hex(3)}",
            remote_root=str(remote_root),
            port=port,
            tunnel="none",
            authorized_keys=[public_key],
        )
    else:
        rt = ColabRuntime(
            username=pwd.getpwuid(os.geteuid()).pw_name,
            remote_root=str(remote_root),
            port=port,
            tunnel="none",
            authorized_keys=[public_key],
            state_dir=base / "state",
        )
    try:
        yield rt.setup()
    finally:
        rt.teardown(remove=True)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def installed_python_env(base: Path) -> dict[str, str]:
    """The environment with bytecode caching on, as an installed ColabLink has it.

    With ``PYTHONDONTWRITEBYTECODE`` set (as in some sandboxes), every run would recompile
    ColabLink's modules from source; a pip-installed wheel ships with its ``.pyc`` files. The
    cache goes to a private prefix so the source tree stays untouched.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(base / "pycache")
    return env


def write_ssh_config(base: Path, info: dict[str, object], port: int, key: Path) -> Path:
    known = base / f"known_hosts_{port}"
    host_keys = [str(line) for line in info["host_keys"]]  # type: ignore[attr-defined]
    known.write_text("".join(f"{ALIAS} {line}\n" for line in host_keys))
    config = base / f"ssh_config_{port}"
    config.write_text(
        f"Host {ALIAS}\n"
        f"  HostName 127.0.0.1\n  Port {port}\n  User {info['username']}\n"
        f'  IdentityFile "{key}"\n  IdentitiesOnly yes\n'
        f'  UserKnownHostsFile "{known}"\n  HostKeyAlias {ALIAS}\n'
        "  StrictHostKeyChecking yes\n  BatchMode yes\n"
    )
    return config


def measure(
    label: str, base: Path, info: dict[str, object], port: int, key: Path, runs: int
) -> list[Row]:
    name = f"bench{port}"
    env = {
        **installed_python_env(base),
        "COLABLINK_CONFIG_DIR": str(base / "config"),
        "COLABLINK_RUNTIME_DIR": str(base / "run"),
    }
    os.environ.update({k: env[k] for k in ("COLABLINK_CONFIG_DIR", "COLABLINK_RUNTIME_DIR")})
    project = base / f"project-{port}"
    project.mkdir()
    ProfileStore().save(
        Profile(
            name=name,
            host="127.0.0.1",
            port=port,
            username=str(info["username"]),
            remote_root=str(info["remote_root"]),
            remote_dir="connection_bench",
            local_dir="connection_bench",
            # An empty project: the agent's sync stays idle, as it is between saves.
            project_root=project,
            key_path=key,
            host_keys=[str(k) for k in info["host_keys"]],  # type: ignore[attr-defined]
        )
    )
    config = write_ssh_config(base, info, port, key)
    ssh = ["ssh", "-F", str(config), ALIAS, "true"]
    ours = [*COLABLINK, "--profile", name, "exec", "true"]
    rows: list[Row] = []

    cold_ours, cold_ssh = paired_ms(lambda: run_quiet(ours, env), lambda: run_quiet(ssh, env), runs)
    rows.append(Row(f"{label} cold", cold_ours, cold_ssh, "ssh host true", 1.2))

    control = base / f"cm-{port}"
    master = ["ssh", "-F", str(config), "-o", f"ControlPath={control}", "-o", "ControlMaster=auto"]
    subprocess.run([*master, "-o", "ControlPersist=120", ALIAS, "true"], check=True, env=env)
    agent = subprocess.Popen(
        [*COLABLINK, "--profile", name, "watch"], env=env, stdout=subprocess.DEVNULL
    )
    try:
        socket_path = base / "run" / f"agent-{name}.sock"
        deadline = time.monotonic() + 20
        while not socket_path.exists():
            if time.monotonic() > deadline or agent.poll() is not None:
                raise SystemExit("the agent did not start")
            time.sleep(0.05)
        warm_ours, warm_cm = paired_ms(
            lambda: run_quiet(ours, env),
            lambda: run_quiet([*master, ALIAS, "true"], env),
            runs * 2,
        )
        rows.append(Row(f"{label} warm", warm_ours, warm_cm, "ssh ControlMaster", 3.0))
    finally:
        agent.send_signal(signal.SIGINT)
        agent.wait(10)
        subprocess.run([*master, "-O", "exit", ALIAS], env=env, capture_output=True)

    with LocalClient(profile=name) as client:
        in_process = median_ms(lambda: client.execute(["true"]), runs * 5, warmup=5)
    # On loopback the bar is absolute; through a tunnel one round trip is the floor.
    target = 3.0 if label == "loopback" else None
    rows.append(Row(f"{label} in-process", in_process, None, "LocalClient.execute", target))
    return rows


def start_agent(name: str, base: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    agent = subprocess.Popen(
        [*COLABLINK, "--profile", name, "watch"], env=env, stdout=subprocess.DEVNULL
    )
    socket_path = base / "run" / f"agent-{name}.sock"
    deadline = time.monotonic() + 30
    while not socket_path.exists():
        if time.monotonic() > deadline or agent.poll() is not None:
            raise SystemExit("the agent did not start")
        time.sleep(0.05)
    return agent


def measure_colab(
    base: Path, info: dict[str, object], port: int, key: Path, cli: Path, runs: int
) -> list[Row]:
    """Colab's channel: the real client against the stand-in, next to plain ssh."""
    from colablink.enroll import colab, enrollment
    from colablink.local import knownhosts, paths, sshconfig

    home = base / "colab-home"
    # The key is authorized already; the stand-in's own additions go to a scratch file.
    scratch_keys = base / "standin_authorized_keys"
    scratch_keys.write_text("")
    with endpoint(port, scratch_keys, TOKEN) as server:
        write_client_home(home, server.url)
        env = {
            **installed_python_env(base),
            "HOME": str(home),
            "COLABLINK_CONFIG_DIR": str(base / "config"),
            "COLABLINK_RUNTIME_DIR": str(base / "run"),
        }
        os.environ.update(env)
        name = "benchcolab"
        project = base / "project-colab"
        project.mkdir()
        profile = Profile(
            name=name,
            host="colab-runtime",
            port=22,
            username=str(info["username"]),
            remote_root=str(info["remote_root"]),
            remote_dir="connection_bench",
            local_dir="connection_bench",
            project_root=project,
            key_path=key,
            host_keys=[str(k) for k in info["host_keys"]],  # type: ignore[attr-defined]
            proxy_command=colab.proxy_argv(cli, SESSION, key),
        )
        ProfileStore().save(profile)
        knownhosts.set_keys(profile.ssh_alias, profile.host_keys, paths.known_hosts_path())
        config = base / "ssh_config_colab"

        def block(proxy: tuple[str, ...] | None) -> None:
            sshconfig.write_block(
                sshconfig.HostEntry(
                    name, "colab-runtime", 22, profile.username, key,
                    paths.known_hosts_path(), proxy,
                ),
                config,
            )  # fmt: skip

        plain = ["ssh", "-F", str(write_ssh_config(base, info, port, key)), ALIAS, "true"]
        through = ["ssh", "-F", str(config), "-o", "BatchMode=yes", profile.ssh_alias, "true"]
        block(profile.proxy_command)
        channel, ssh = paired_ms(
            lambda: run_quiet(through, env), lambda: run_quiet(plain, env), runs
        )
        rows = [Row("colab ssh ProxyCommand", channel, ssh, "ssh host true", None)]
        block(enrollment._ssh_proxy_command(profile))
        agent = start_agent(name, base, env)
        try:
            held, ssh = paired_ms(
                lambda: run_quiet(through, env), lambda: run_quiet(plain, env), runs
            )
            rows.append(Row("colablink proxy (held)", held, ssh, "ssh host true", None))
        finally:
            agent.send_signal(signal.SIGINT)
            agent.wait(10)
        print(f"stand-in: {server.connections} connections, refused {server.refused}")
    return rows


def report(rows: list[Row], floor_ms: float) -> None:
    print(
        f"\nPython start-up floor (`python -c 'import re'`, what the installed command does "
        f"before any ColabLink code): {floor_ms:.1f} ms"
    )
    print(f"{'measurement':<26}{'ColabLink':>11}{'reference':>11}  {'ratio':>6}  target")
    for row in rows:
        if row.theirs is None:
            goal = "(a round trip is the floor)"
            if row.target is not None:
                goal = f"≤ {row.target} ms ({'met' if row.ours <= row.target else 'missed'})"
            print(f"{row.what:<26}{row.ours:>9.1f}ms{'':>11}  {'':>6}  {goal}")
            continue
        ratio = row.ours / row.theirs
        if row.target is None:
            goal = f"vs {row.reference}"
        else:
            verdict = "met" if ratio <= row.target else "missed"
            goal = f"≤ {row.target}× {row.reference} ({verdict})"
        print(f"{row.what:<26}{row.ours:>9.1f}ms{row.theirs:>9.1f}ms  {ratio:>5.2f}×  {goal}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per cold measurement")
    parser.add_argument(
        "--colab-cli",
        type=Path,
        default=Path.home() / ".cache" / "colablink-tests" / "colab-cli-0.7.5" / "bin" / "colab",
        help="Google's colab client (the Colab rows are left out when it is missing)",
    )
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="clb-"))
    base.chmod(0o755)
    try:
        key = base / "id_ed25519"
        public = keys.generate_keypair(key, "colablink-bench")
        with runtime(base, public) as info:
            port = int(str(info["port"]))
            floor = median_ms(
                lambda: run_quiet([sys.executable, "-c", "import re"], installed_python_env(base)),
                args.runs * 2,
            )
            rows = measure("loopback", base, info, port, key, args.runs)
            proxy = DelayProxy("127.0.0.1", port, delay=RTT_DELAY_S)
            proxy.start()
            try:
                rows += measure("40 ms RTT", base, info, proxy.port, key, args.runs)
            finally:
                proxy.stop()
            if args.colab_cli.exists():
                rows += measure_colab(base, info, port, key, args.colab_cli, args.runs)
        report(rows, floor)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
