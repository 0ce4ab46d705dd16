"""One connection carries 600 MiB each way without stalling across rekeys (paramiko #822)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from colablink.ssh import remote_exec
from colablink.ssh.session import Session
from paramiko.common import MSG_KEXINIT

SIZE = 600 * 1024 * 1024
CHUNK = 1024 * 1024
STALL_LIMIT_S = 120


class Zeros:
    """A stdin that produces ``size`` bytes without holding them in memory."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.block = bytes(CHUNK)

    def read(self, n: int = -1) -> bytes:
        take = min(self.left, CHUNK if n < 0 else n, CHUNK)
        self.left -= take
        return self.block[:take] if take < CHUNK else self.block


def timed(work: Callable[[], int]) -> tuple[int, float]:
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(work()), daemon=True)
    start = time.perf_counter()
    thread.start()
    thread.join(STALL_LIMIT_S)
    assert not thread.is_alive(), f"transfer stalled (still running after {STALL_LIMIT_S} s)"
    return result[0], time.perf_counter() - start


def test_600_mib_down_and_up_on_one_connection(session: Session) -> None:
    # Count the runtime's key re-exchanges (its sshd rekeys every 256 MiB): the transfers must
    # run through several of them, which is where paramiko used to stall.
    kexinits: list[float] = []
    table = session.transport._handler_table  # type: ignore[attr-defined]
    negotiate = table[MSG_KEXINIT]
    table[MSG_KEXINIT] = lambda m: (kexinits.append(time.monotonic()), negotiate(m))
    received = [0]

    def down() -> int:
        def count(b: bytes) -> None:
            received[0] += len(b)

        return remote_exec.stream(
            session, f"head -c {SIZE} /dev/zero", on_stdout=count, on_stderr=lambda _: None
        )

    code, down_s = timed(down)
    assert code == 0 and received[0] == SIZE

    out: list[bytes] = []

    def up() -> int:
        return remote_exec.stream(
            session, "wc -c", on_stdout=out.append, on_stderr=lambda _: None, stdin=Zeros(SIZE)
        )

    code, up_s = timed(up)
    assert code == 0 and int(b"".join(out)) == SIZE
    assert session.run(["true"]).exit_code == 0, "the connection still works afterwards"
    assert len(kexinits) >= 4, f"only {len(kexinits)} key re-exchanges during 1.2 GiB"
    mib = SIZE / 2**20
    print(
        f"\n600 MiB down {down_s:.2f} s ({mib / down_s:.0f} MiB/s), "
        f"up {up_s:.2f} s ({mib / up_s:.0f} MiB/s), {len(kexinits)} rekeys on the way"
    )
