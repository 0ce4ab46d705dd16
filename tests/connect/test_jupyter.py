"""`colablink jupyter` and `colablink run` against a real jupyter_server on the test bed's runtime.

The runtime's python3 lacks jupyter_server, so the first `colablink jupyter` installs it into the
private environment (about a minute): it happens once, for the module's one runtime, which
scripts/test.sh's ``--dist loadscope`` keeps on one xdist worker with all of the module's tests.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from colablink.connection import Connection
from colablink.errors import RemoteError
from colablink.local.profiles import ProfileStore
from colablink.notebooks import jupyter_server, notebook_run
from colablink.notebooks.kernel_client import JupyterClient, JupyterError
from support.system import free_port, wait_for

from bench.delay_proxy import DelayProxy

from .conftest import Setup, end, make_profile

USER_MODULE = "clk_user_only"


@dataclass
class Served:
    live: Setup
    process: subprocess.Popen[bytes]
    port: int
    token: str
    stderr: list[str]

    def client(self) -> JupyterClient:
        return JupyterClient(self.port, self.token, timeout=60)


def _notebook(path: Path, *sources: str) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(path))


def _plant_user_package(live: Setup) -> None:
    """A module only the runtime user's own python3 sees (its user site), not the private env."""
    found = live.cli("exec", "python3", "-c", "import site; print(site.getusersitepackages())")
    site_dir = Path(found.stdout.decode().strip())
    site_dir.mkdir(parents=True, exist_ok=True)
    (site_dir / f"{USER_MODULE}.py").write_text("ANSWER = 42\n")
    account = pwd.getpwnam(live.runtime.username)
    home = Path(account.pw_dir)
    for path in [site_dir, *site_dir.parents]:
        if path == home or home not in path.parents:
            break
        os.chown(path, account.pw_uid, account.pw_gid)
    os.chown(site_dir / f"{USER_MODULE}.py", account.pw_uid, account.pw_gid)


def _read_url(process: subprocess.Popen[bytes], stderr: list[str]) -> str:
    """The URL line on stdout; stderr (progress) is collected meanwhile."""
    assert process.stdout is not None and process.stderr is not None
    pipe = process.stderr
    threading.Thread(
        target=lambda: stderr.extend(line.decode() for line in pipe), daemon=True
    ).start()
    line = process.stdout.readline().decode().strip()
    assert line.startswith("http://127.0.0.1:"), (line, stderr, process.poll())
    return line


def _split(url: str) -> tuple[int, str]:
    rest = url.removeprefix("http://127.0.0.1:")
    port, _, query = rest.partition("/?token=")
    return int(port), query


@pytest.fixture(scope="module")
def served(live: Setup) -> Iterator[Served]:
    project = live.profile.project_root
    (project / "nbs" / "data").mkdir(parents=True)
    (project / "nbs" / "data" / "train.csv").write_text("a,b\n1,2\n3,4\n")
    assert live.cli("sync").returncode == 0
    _plant_user_package(live)
    local_port = free_port()
    process = live.spawn("jupyter", "--port", str(local_port))
    stderr: list[str] = []
    try:
        port, token = _split(_read_url(process, stderr))
        assert port == local_port
        yield Served(live, process, port, token, stderr)
    finally:
        end(process)
        live.cli("jupyter", "--stop")
        shutil.rmtree(_kernel_dir(live), ignore_errors=True)


def _kernel_dir(live: Setup) -> Path:
    return Path(f"/tmp/colablink-jupyter-{pwd.getpwnam(live.runtime.username).pw_uid}")


def test_a_real_client_runs_cells_next_to_the_synced_files(served: Served) -> None:
    live = served.live
    assert any("Installing jupyter_server" in line for line in served.stderr), served.stderr
    runtime_python = live.cli("exec", "python3", "-c", "import sys; print(sys.executable)")
    client = served.client()
    kernel = client.start_kernel("nbs/analysis.ipynb")
    with client.channel(kernel.id) as channel:
        result = channel.execute(
            "import os, sys, pathlib\n"
            f"import {USER_MODULE}\n"
            "rows = pathlib.Path('data/train.csv').read_text().splitlines()\n"
            "out = pathlib.Path(os.environ['COLABLINK_OUTPUT_DIR'], 'from_kernel.txt')\n"
            "out.write_text(f'{len(rows)} rows')\n"
            f"print(os.getcwd(), sys.executable, {USER_MODULE}.ANSWER, len(rows))",
            timeout=60,
        )
    assert result.status == "ok", result.outputs
    cwd, executable, answer, rows = result.stdout.split()
    assert cwd == f"{live.runtime.remote_root}/nbs"
    assert executable == runtime_python.stdout.decode().strip()
    assert (answer, rows) == ("42", "3")
    assert live.cli("sync").returncode == 0
    assert (live.profile.local_conn_dir / "from_kernel.txt").read_text() == "3 rows"
    # The same path is the same session: one kernel per notebook.
    assert client.start_kernel("nbs/analysis.ipynb").id == kernel.id


def test_no_token_is_refused_and_only_loopback_listens(served: Served) -> None:
    with pytest.raises(JupyterError) as refused:
        served.client().request("GET", "/api/kernels", auth=False)
    assert refused.value.status == 403
    with pytest.raises(JupyterError) as wrong:
        JupyterClient(served.port, "0" * 48).request("GET", "/api/kernels")
    assert wrong.value.status == 403
    with Connection(served.live.profile) as connection:
        server = jupyter_server.server_status(connection)
    assert server is not None and server.token == served.token
    # The runtime is this machine: its listening sockets for the server's port.
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port = local.split(":")
            if state == "0A" and int(port, 16) == server.port:
                listening.add(address)
    assert listening == {"0100007F"}
    # Kernels talk to the server over unix sockets in a private folder, not TCP ports.
    served.client().start_kernel("nbs/sockets.ipynb")
    folder = _kernel_dir(served.live)
    assert folder.stat().st_mode & 0o777 == 0o700
    connections = [json.loads(f.read_text()) for f in folder.glob("kernel-*.json")]
    assert connections and {c["transport"] for c in connections} == {"ipc"}
    others = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    for address in [a for a in others if not a.startswith("127.")][:2]:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family) as probe, pytest.raises(OSError):
            probe.settimeout(2)
            probe.connect((address, server.port))


def test_a_kernel_is_interrupted_and_restarted(served: Served) -> None:
    client = served.client()
    kernel = client.start_kernel("nbs/restart.ipynb")
    with client.channel(kernel.id) as channel:
        assert channel.execute("kept = 1", timeout=60).status == "ok"
        timer = threading.Timer(1.0, client.interrupt, (kernel.id,))
        timer.start()
        slow = channel.execute("import time\ntime.sleep(60)", timeout=30)
        timer.join()
        assert slow.status == "error" and slow.error is not None
        assert slow.error.ename == "KeyboardInterrupt"
        client.restart(kernel.id)
    with client.channel(kernel.id) as channel:
        after = channel.execute("print('kept' in globals())", timeout=60)
    assert after.stdout == "False\n"
    client.shutdown(kernel)
    assert kernel.id not in [k.id for k in client.kernels()]


def test_status_shows_the_server_without_its_token(served: Served) -> None:
    shown = served.live.cli("status")
    assert shown.returncode == 0, shown.stderr
    (row,) = [line for line in shown.stdout.decode().splitlines() if line.startswith("jupyter")]
    assert "running on the runtime's port" in row
    assert served.token not in shown.stdout.decode()


def test_the_kernel_and_its_state_survive_a_cut_link(served: Served) -> None:
    live = served.live
    with DelayProxy("127.0.0.1", live.runtime.port, delay=0.0) as proxy:
        ProfileStore().save(
            make_profile(live.runtime, live.socket.parent.parent, "cut", proxy.port)
        )
        port = free_port()
        process = live.spawn("jupyter", "-p", "cut", "--port", str(port))
        try:
            assert _split(_read_url(process, []))[1] == served.token  # the same server
            client = JupyterClient(port, served.token, timeout=60)
            kernel = client.start_kernel("nbs/cut.ipynb")
            with client.channel(kernel.id) as channel:
                assert channel.execute("before = 6 * 7", timeout=60).status == "ok"
            proxy.cut()
            # A new client through the same local port rides the re-dialed connection.
            client = JupyterClient(port, served.token, timeout=5)

            def answered() -> bool:
                try:
                    return kernel.id in [k.id for k in client.kernels()]
                except JupyterError:
                    return False

            wait_for(answered, 60, "the forward to come back", interval=0.5)
            assert proxy.cuts >= 1
            with client.channel(kernel.id) as channel:
                result = channel.execute("print(before)", timeout=60)
            assert result.stdout == "42\n"
            assert process.poll() is None
        finally:
            end(process)
            ProfileStore().delete("cut")


def test_run_names_the_failing_cell_and_keeps_what_ran(served: Served) -> None:
    live = served.live
    source = live.profile.project_root / "nbs" / "fail.ipynb"
    _notebook(
        source,
        "print('one')",
        "x = len(open('data/train.csv').read().splitlines())\nprint(x * 2)",
        "print(undefined_name)",
        "print('never')",
    )
    done = live.cli("run", str(source), timeout=180)
    assert done.returncode == 1, done.stderr
    stderr = done.stderr.decode()
    assert "cell 1/4" in stderr and "cell 2/4" in stderr
    assert "cell 3 failed: NameError: name 'undefined_name' is not defined" in stderr
    executed = nbformat.read(str(source.with_name("fail.out.ipynb")), as_version=4)
    texts = [[o.get("text", "") for o in cell.outputs] for cell in executed.cells]
    assert texts[0] == ["one\n"] and texts[1] == ["6\n"]
    (error,) = executed.cells[2].outputs
    assert error.output_type == "error" and error.ename == "NameError"
    assert any("undefined_name" in line for line in error.traceback)
    assert executed.cells[3].outputs == []


def test_run_writes_where_asked_through_the_agent(
    served: Served, agent: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    live = served.live
    source = live.profile.project_root / "nbs" / "ok.ipynb"
    _notebook(source, "import os\nprint(os.getcwd())", "print(sum(range(10)))")
    target = tmp_path / "result.ipynb"
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("keep")
    target.symlink_to(elsewhere)  # replaced, never written through
    done = live.cli("run", str(source), "--output", str(target), timeout=180)
    assert done.returncode == 0, done.stderr
    assert not target.is_symlink() and elsewhere.read_text() == "keep"
    executed = nbformat.read(str(target), as_version=4)
    assert [cell.outputs[0]["text"] for cell in executed.cells] == [
        f"{live.runtime.remote_root}/nbs\n",
        "45\n",
    ]
    assert not source.with_name("ok.out.ipynb").exists()
    outside = live.cli("run", str(tmp_path / "outside.ipynb"))
    assert outside.returncode != 0 and len(outside.stderr.decode().strip().splitlines()) == 1


def test_jupyter_through_the_agent_holds_the_forward_while_it_runs(
    served: Served, agent: subprocess.Popen[bytes]
) -> None:
    port = free_port()
    process = served.live.spawn("jupyter", "--port", str(port))
    try:
        assert _split(_read_url(process, [])) == (port, served.token)
        assert isinstance(JupyterClient(port, served.token).kernels(), list)
        process.send_signal(signal.SIGINT)
        stdout, _ = process.communicate(timeout=20)
        assert process.returncode == 0
        assert b"the server keeps running" in stdout
        with socket.socket() as probe, pytest.raises(OSError):
            probe.connect(("127.0.0.1", port))
    finally:
        end(process)
    assert served.live.cli("status").returncode == 0


def test_ctrl_c_on_run_interrupts_it_and_leaves_no_kernel(served: Served) -> None:
    live = served.live
    source = live.profile.project_root / "nbs" / "slow.ipynb"
    _notebook(source, "import time\ntime.sleep(120)")
    process = live.spawn("run", str(source))
    try:
        assert process.stderr is not None
        line = b""
        while b"cell 1/1 running" not in line:
            line = process.stderr.readline()
            assert line, "the run ended before its cell started"
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
        assert process.returncode == 130
    finally:
        end(process)

    def gone() -> bool:
        found = subprocess.run(
            ["pgrep", "-u", live.runtime.username, "-f", "notebook_runner|nbclient-"],
            capture_output=True,
        )
        return found.returncode == 1

    wait_for(gone, 20, "the runner and its kernel to end")


def test_an_oversized_or_bogus_notebook_from_the_runtime_lands_nothing(
    served: Served, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    live = served.live
    source = live.profile.project_root / "nbs" / "big.ipynb"
    _notebook(source, "print('x' * 10000)")
    assert live.cli("sync").returncode == 0
    target = tmp_path / "big.out.ipynb"
    monkeypatch.setattr(notebook_run, "MAX_NOTEBOOK", 4096)
    with Connection(live.profile) as connection, pytest.raises(RemoteError, match="larger than"):
        notebook_run.run_notebook(connection, "nbs/big.ipynb", target)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RemoteError, match="not a notebook"):
        notebook_run._check_notebook(json.dumps({"no": "cells"}).encode())


def test_stop_ends_the_server_and_its_kernels(served: Served) -> None:
    live = served.live
    stopped = live.cli("jupyter", "--stop")
    assert stopped.stdout.decode() == "Stopped the Jupyter server on the runtime.\n"

    def gone() -> bool:
        found = subprocess.run(
            ["pgrep", "-u", live.runtime.username, "-f", "jupyter|ipykernel|kernel_launcher"],
            capture_output=True,
        )
        return found.returncode == 1

    wait_for(gone, 20, "the server and its kernels to end")
    rows = live.cli("status").stdout.decode().splitlines()
    assert [row.split(None, 1)[1] for row in rows if row.startswith("jupyter")] == ["not running"]
    again = live.cli("jupyter", "--stop")
    assert again.stdout.decode() == "No Jupyter server was running on the runtime.\n"


def _holding_the_default_port() -> socket.socket | None:
    """A listener on 8888, so ``jupyter`` without ``--port`` must take another; None when
    something else on this machine holds it already, which makes the same point."""
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", 8888))
    except OSError:
        holder.close()
        return None
    holder.listen()
    return holder


def _takes_a_free_port_when_8888_is_taken(served: Served) -> None:
    holder = _holding_the_default_port()
    process = served.live.spawn("jupyter")
    try:
        port, token = _split(_read_url(process, []))
        assert port != 8888
        assert isinstance(JupyterClient(port, token).kernels(), list)
    finally:
        end(process)
        if holder is not None:
            holder.close()


def test_without_port_a_taken_8888_means_a_free_port(served: Served) -> None:
    _takes_a_free_port_when_8888_is_taken(served)


def test_without_port_a_taken_8888_means_a_free_port_through_the_agent(
    served: Served, agent: subprocess.Popen[bytes]
) -> None:
    _takes_a_free_port_when_8888_is_taken(served)
