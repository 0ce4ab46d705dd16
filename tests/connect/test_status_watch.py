"""``colablink status`` reports the runtime's resources; ``--watch`` reports again until Ctrl+C."""

from __future__ import annotations

import os
import re
import signal
import threading
import time

from colablink.resources import parse_probe

from .conftest import Setup

RAM = re.compile(r"^ram\s+\S+ \S+ of \S+ \S+ used \(\d+%\)$", re.M)
DISK = re.compile(r"^disk\s+\S+ \S+ of \S+ \S+ used \(\d+%\)$", re.M)


def test_status_reports_ram_and_disk_of_the_runtime(live: Setup) -> None:
    result = live.cli("status")
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert RAM.search(out), out
    assert DISK.search(out), out
    assert "agent      not running" in out


def test_status_watch_reports_again_until_ctrl_c(live: Setup) -> None:
    process = live.spawn("status", "--watch", "0.3")
    stdout = process.stdout
    assert stdout is not None
    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(stdout.readline, b"")))
    reader.start()

    def text() -> str:
        return b"".join(lines).decode()

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(RAM.findall(text())) < 3:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 0
    reader.join(timeout=5)
    assert len(re.findall(r"^-- \d\d:\d\d:\d\d$", text(), re.M)) >= 3, text()
    assert len(RAM.findall(text())) >= 3, text()


def test_status_watch_refuses_a_non_positive_interval(live: Setup) -> None:
    result = live.cli("status", "--watch", "0")
    assert result.returncode != 0
    assert b"--watch takes a positive number of seconds." in result.stderr


def test_the_probe_parses_a_gpu_runtime_and_distrusts_garbage() -> None:
    split = "--colablink-status--"
    text = (
        "/dev/sda1 100000 40000 60000 40% /content\n"
        f"{split}\nTesla T4, 15360, 14800, 97\n{split}\n"
        "MemTotal: 13000000 kB\nMemFree: 100 kB\nMemAvailable: 6500000 kB\n"
    )
    found = parse_probe(text)
    assert found.gpu_name == "Tesla T4"
    res = found.resources
    assert (res.gpu_memory_total_mib, res.gpu_memory_used_mib, res.gpu_utilization_pct) == (
        15360,
        14800,
        97,
    )
    assert res.ram_total_bytes == 13000000 * 1024 and res.ram_available_bytes == 6500000 * 1024
    assert res.disk_total_bytes == 100000 * 1024 and res.disk_free_bytes == 60000 * 1024
    hostile = parse_probe(f"x y z w\n{split}\n\x1b[31m, [N/A], 999, 400\n{split}\nMemTotal: -1 kB")
    assert hostile.resources.gpu_utilization_pct is None
    assert hostile.resources.gpu_memory_total_mib is None
    assert hostile.resources.ram_total_bytes is None
    assert hostile.resources.disk_total_bytes is None
    assert os.linesep not in (hostile.gpu_name or "")
