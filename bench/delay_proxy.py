"""A TCP proxy that delays each direction by a fixed time and can drop connections on demand.

netem is not available on this kernel, so round-trip time is simulated in user space: every
chunk read on one side is written to the other ``delay`` seconds later, in order.

    proxy = DelayProxy("127.0.0.1", sshd_port, delay=0.020)   # 40 ms RTT
    port = proxy.start()
    ...
    proxy.cut()               # reset every open connection now
    proxy.cut_after(123_456)  # reset them once that many more bytes have been forwarded
    proxy.stall(); proxy.resume()  # hold all traffic without closing anything, then let it go
    proxy.stop()

As a command: ``python bench/delay_proxy.py TARGET_HOST:PORT [--delay-ms 20] [--port N]
[--cut-after BYTES]``; it prints the listening port, and SIGUSR1 cuts every connection.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import struct
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

_READ = 64 * 1024
# Bounds memory when the receiver is slower than the sender: ~16 MiB in flight per direction.
_QUEUE_CHUNKS = 256


@dataclass(eq=False)
class _Link:
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class DelayProxy:
    """Forward ``listen_host:port`` to ``target_host:target_port`` with ``delay`` s each way."""

    def __init__(
        self,
        target_host: str,
        target_port: int,
        delay: float = 0.020,
        *,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
        cut_after: int | None = None,
    ) -> None:
        self.target = (target_host, target_port)
        self.delay = delay
        self.listen = (listen_host, listen_port)
        self.port = 0
        self.bytes_forwarded = 0
        self.connections_accepted = 0
        self.cuts = 0
        self._cut_at = None if cut_after is None else cut_after
        self._links: set[_Link] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._flowing = asyncio.Event()  # binds to the proxy's loop on first use
        self._flowing.set()

    # -- control, from any thread ------------------------------------------------------------

    def start(self) -> int:
        """Start serving in a background thread; return the listening port."""
        self._thread = threading.Thread(target=self._run, name="delay-proxy", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self.port

    def cut(self) -> None:
        """Reset every open connection (both sides see a TCP RST), as a dropped tunnel does."""
        self._call(self._cut_all)

    def cut_after(self, nbytes: int) -> None:
        """Cut every connection once ``nbytes`` more bytes have been forwarded (either way)."""
        self._call(lambda: setattr(self, "_cut_at", self.bytes_forwarded + nbytes))

    def stall(self) -> None:
        """Stop forwarding without closing anything, as a tunnel that went silent."""
        self._call(self._flowing.clear)

    def resume(self) -> None:
        """Deliver what was held back by ``stall()`` and carry on."""
        self._call(self._flowing.set)

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = None

    def __enter__(self) -> DelayProxy:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _call(self, fn: Callable[[], object]) -> None:
        assert self._loop is not None, "start() the proxy first"
        done = threading.Event()

        def run() -> None:
            try:
                fn()
            finally:
                done.set()

        self._loop.call_soon_threadsafe(run)
        done.wait(10)

    # -- the event loop ----------------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(self._accept, *self.listen, reuse_address=True)
            )
            self.port = self._server.sockets[0].getsockname()[1]
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        loop.run_forever()
        loop.close()

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        self._cut_all(count=False)
        for link in list(self._links):
            for task in link.tasks:
                task.cancel()
        await asyncio.sleep(0)

    async def _accept(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        self.connections_accepted += 1
        try:
            s_reader, s_writer = await asyncio.open_connection(*self.target)
        except OSError:
            _reset(c_writer)
            return
        for writer in (c_writer, s_writer):
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        link = _Link(writers=[c_writer, s_writer])
        self._links.add(link)
        done = asyncio.Event()
        remaining = [2]

        def finished() -> None:
            remaining[0] -= 1
            if remaining[0] == 0:
                done.set()

        for reader, writer in ((c_reader, s_writer), (s_reader, c_writer)):
            queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue(_QUEUE_CHUNKS)
            link.tasks.append(asyncio.create_task(self._read(reader, queue)))
            link.tasks.append(asyncio.create_task(self._write(queue, writer, finished)))
        await done.wait()
        self._links.discard(link)
        for writer in link.writers:
            writer.close()

    async def _read(
        self, reader: asyncio.StreamReader, queue: asyncio.Queue[tuple[float, bytes] | None]
    ) -> None:
        loop = asyncio.get_running_loop()
        try:
            while data := await reader.read(_READ):
                await queue.put((loop.time() + self.delay, data))
        except OSError:
            pass
        await queue.put(None)

    async def _write(
        self,
        queue: asyncio.Queue[tuple[float, bytes] | None],
        writer: asyncio.StreamWriter,
        finished: Callable[[], None],
    ) -> None:
        loop = asyncio.get_running_loop()
        try:
            while (item := await queue.get()) is not None:
                due, data = item
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                await self._flowing.wait()
                if self._cut_at is not None and self.bytes_forwarded + len(data) >= self._cut_at:
                    keep = self._cut_at - self.bytes_forwarded
                    writer.write(data[:keep])
                    self.bytes_forwarded += keep
                    self._cut_all()
                    return
                writer.write(data)
                self.bytes_forwarded += len(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except (OSError, RuntimeError):
            pass
        finally:
            finished()

    def _cut_all(self, *, count: bool = True) -> None:
        self._cut_at = None
        if count:
            self.cuts += 1
        for link in list(self._links):
            for writer in link.writers:
                _reset(writer)
            for task in link.tasks:
                if task is not asyncio.current_task():
                    task.cancel()
            self._links.discard(link)


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        # Linger 0: close() sends a RST instead of a FIN, like a tunnel that vanished.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("target", help="HOST:PORT to forward to")
    parser.add_argument("--delay-ms", type=float, default=20.0, help="delay each way (ms)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any)")
    parser.add_argument("--cut-after", type=int, default=None, help="cut after N bytes")
    args = parser.parse_args(argv)
    host, _, port = args.target.rpartition(":")
    proxy = DelayProxy(
        host or "127.0.0.1",
        int(port),
        args.delay_ms / 1000,
        listen_host=args.host,
        listen_port=args.port,
        cut_after=args.cut_after,
    )
    print(proxy.start(), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGUSR1, lambda *_: threading.Thread(target=proxy.cut).start())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    proxy.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
