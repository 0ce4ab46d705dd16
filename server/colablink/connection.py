"""The live profile: one SSH session, and every verb that runs over it.

The CLI (when no daemon is up), the daemon, ``LocalClient`` and the editor helper all hold a
``Connection``; none of them talks to paramiko directly. The session is opened on first use and
reopened if it dropped, so a long-lived holder (the daemon) survives a runtime that went away and
came back. A runtime restarted on Colab comes back as a fresh machine (new address, new host keys);
once `colablink init` stored its connection info in the same profile, the reopened session goes
there.
"""

from __future__ import annotations

import shlex
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from colablink.daemon.holder import request_proxy
from colablink.errors import ColabLinkError, Unreachable, UsageError
from colablink.local.profiles import Profile, ProfileStore
from colablink.notebooks import server_state
from colablink.ports import LISTENING_COMMAND, Listening, parse_listening
from colablink.resources import SPLIT, Resources, parse_probe, probe_command
from colablink.ssh import remote_exec
from colablink.ssh.session import Session, SshTarget
from colablink.ssh.transport import DirectTcp, ProxyCommand, Stream

# The runtime's own loopback, where `ssh -L N:127.0.0.1:N` would reach its port N too.
REMOTE_HOST = "127.0.0.1"

if TYPE_CHECKING:
    from paramiko import Channel

    from colablink.ssh.forward import LocalForward
    from colablink.ssh.runs import RunInfo, SupervisorLink

OnOutput = Callable[[bytes], None]
_PORTS_SPLIT = f"{SPLIT}ports"
_JUPYTER_SPLIT = f"{SPLIT}jupyter"
NO_PYTHON = "The runtime has no python3, so runs cannot outlive the link there."

Progress = Callable[[int, int], None]
Command = Sequence[str] | str


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: bytes
    stderr: bytes

    @property
    def output(self) -> str:
        return self.stdout.decode(errors="replace")

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@dataclass(frozen=True)
class Gpu:
    name: str
    memory_mib: int


@dataclass(frozen=True)
class Status:
    profile: str
    host: str
    port: int
    username: str
    remote_root: str
    reachable: bool
    rtt_ms: float | None
    gpu: Gpu | None
    disk_free_bytes: int | None
    agent_running: bool
    problem: str | None
    # GPU memory and utilisation, RAM and disk; None when unreachable (or from an older daemon).
    resources: Resources | None = None
    # The login user's listening TCP sockets; None when unreachable (or from an older daemon).
    listening: list[Listening] | None = None
    # Runs of the supervisor still going; None when unknown (no supervisor there, an older daemon).
    runs_in_progress: int | None = None
    # The runtime's Jupyter server (`colablink jupyter`): its port there and run id; None if none.
    jupyter_port: int | None = None
    jupyter_run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Status:
        gpu = data.get("gpu")
        res = data.get("resources")
        listening = data.get("listening")
        fields = {
            **data,
            "gpu": None if gpu is None else Gpu(**gpu),
            "resources": None if res is None else Resources(**res),
            "listening": None if listening is None else [Listening(**x) for x in listening],
        }
        return cls(**fields)


def target_of(profile: Profile) -> SshTarget:
    return SshTarget(
        host=profile.host,
        port=profile.port,
        username=profile.username,
        host_keys=tuple(profile.host_keys),
        key_path=profile.key_path,
        transport=DirectTcp()
        if profile.proxy_command is None
        else ProxyCommand(profile.proxy_command),
    )


class Connection:
    """One profile's SSH session and the forwards opened on it."""

    def __init__(
        self, profile: Profile, *, connect_timeout: float = 15.0, ride: Path | None = None
    ) -> None:
        """Commands run through the runtime's run supervisor, reached once per session, so they
        outlive a dropped link; plain channels where the runtime has no ``python3``.

        ``ride`` is a holder's socket (an editor window's): while it answers, every dial goes
        through its connection rather than the profile's transport (Colab's takes one at a time).
        """
        self.profile = profile
        self._ride = ride
        self._store = ProfileStore()
        # Only a holder of the stored profile follows it; one given a variant (another port, a
        # profile never saved) keeps dialing what it was given.
        self._follows_store = self._stored() == profile
        self._connect_timeout = connect_timeout
        self._session: Session | None = None
        self._lock = threading.Lock()
        self._forwards: dict[int, LocalForward] = {}
        self._use_supervisor = True
        self._link: SupervisorLink | None = None
        self._link_session: Session | None = None
        self._link_lock = threading.Lock()
        # Where the runtime's sshd took the held session, learnt once per session.
        self._sshd_address: tuple[Session, tuple[str, int]] | None = None

    # -- the session -------------------------------------------------------------------------

    @property
    def session(self) -> Session:
        """The open session, connecting (or reconnecting after a drop) when needed."""
        with self._lock:
            if self._session is None or not self._session.is_active():
                if self._session is not None:
                    self._session.close()
                    self._session = None
                self._follow_store()
                self._session = self._dial(target_of(self.profile))
            return self._session

    def _dial(self, target: SshTarget) -> Session:
        """Through the holder while one answers, else the transport: chosen anew at each dial,
        so a session that died with its window comes back on the transport, now free."""
        if self._ride is not None:
            held = Stream(partial(_through_holder, self._ride), "the editor window's connection")
            try:
                return Session.connect(
                    replace(target, transport=held), timeout=self._connect_timeout
                )
            except Unreachable:
                pass
        return Session.connect(target, timeout=self._connect_timeout)

    def _stored(self) -> Profile | None:
        """This profile as stored now; None when it was forgotten or cannot be read."""
        try:
            return self._store.load(self.profile.name)
        except (ColabLinkError, OSError):
            return None

    def _follow_store(self) -> None:
        """Before dialing, take up what `colablink init` stored for this profile since."""
        if not self._follows_store:
            return
        stored = self._stored()
        if stored is not None and stored != self.profile:
            self.profile = stored

    def close(self) -> None:
        """Stop every forward and close the session."""
        with self._lock:
            forwards = list(self._forwards.values())
            self._forwards.clear()
            session, self._session = self._session, None
        with self._link_lock:
            link, self._link = self._link, None
        if link is not None:
            link.close()
        for forward in forwards:
            forward.stop()
        if session is not None:
            session.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- running commands --------------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        """What every command gets on top of the login environment."""
        return {"PYTHONUNBUFFERED": "1", "COLABLINK_OUTPUT_DIR": self.profile.remote_conn_dir}

    def command_line(self, command: Command) -> str:
        """``command`` as run remotely: in the source root, with the connection's environment."""
        return remote_exec.command_line(
            command, cwd=self.profile.remote_root, env=self.environment()
        )

    def exec(
        self,
        command: Command,
        *,
        on_stdout: OnOutput,
        on_stderr: OnOutput,
        stdin: bytes | IO[bytes] | None = None,
        cancel: threading.Event | None = None,
        detach: threading.Event | None = None,
        on_notice: Callable[[str], object] | None = None,
    ) -> int:
        """Run ``command`` remotely, streaming output; return its exit code (128+n on a signal).

        A dropped link is re-dialed and the run followed on from the last byte received;
        ``cancel`` interrupts it, ``detach`` leaves it running (``runs.Detached``)."""
        from colablink.ssh import runs

        line = self.command_line(command)  # validates, whichever way the command then runs
        session = self.session
        if self._link_on(session) is not None:
            try:
                code = runs.follow(
                    self.supervisor,
                    self._run_request(command, line),
                    on_stdout=on_stdout,
                    on_stderr=on_stderr,
                    stdin=stdin,
                    cancel=cancel,
                    detach=detach,
                    on_notice=on_notice,
                )
            except runs.NoSupervisor:
                with self._link_lock:
                    self._use_supervisor = False  # plain channels from now on
            else:
                assert code is not None  # only an attach "until now" stops before the end
                return code
        return remote_exec.stream(
            session, line, on_stdout=on_stdout, on_stderr=on_stderr, stdin=stdin, cancel=cancel
        )

    def _run_request(self, command: Command, line: str) -> dict[str, Any]:
        if remote_exec.is_shell_line(command):
            return {"line": line, "command": command if isinstance(command, str) else command[0]}
        return {
            "argv": list(command),
            "cwd": self.profile.remote_root,
            "env": self.environment(),
            "command": shlex.join(command),
        }

    def start_detached(self, command: Command) -> str:
        """Start ``command`` and return its run id at once; its stdin is closed."""
        line = self.command_line(command)
        link = self.supervisor()
        _, run_id = link.start({**self._run_request(command, line), "stdin": False}, None)
        return run_id

    def attach(
        self,
        run_id: str,
        *,
        on_stdout: OnOutput,
        on_stderr: OnOutput,
        from_pos: int = 0,
        stdin: bytes | IO[bytes] | None = None,
        cancel: threading.Event | None = None,
        detach: threading.Event | None = None,
        until_now: bool = False,
        on_notice: Callable[[str], object] | None = None,
        reached: Callable[[int], object] | None = None,
    ) -> int | None:
        """Follow a run from byte ``from_pos`` of its output to its end; its exit code (None when
        ``until_now`` stopped at the output so far of a run still going); ``reached`` hears the
        position to carry on from."""
        from colablink.ssh import runs

        return runs.follow(
            self.supervisor,
            {},
            on_stdout=on_stdout,
            on_stderr=on_stderr,
            stdin=stdin,
            cancel=cancel,
            detach=detach,
            on_notice=on_notice,
            run_id=run_id,
            from_pos=from_pos,
            until_now=until_now,
            reached=reached,
        )

    def runs(self) -> list[RunInfo]:
        """Every run the supervisor keeps, oldest first."""
        return self.supervisor().list()

    def kill(self, run_id: str, signal_name: str = "TERM") -> bool:
        """Signal a run's process group; whether it was still running."""
        return self.supervisor().kill(run_id, signal_name)

    def warm_up(self) -> None:
        """Connect, and reach the run supervisor now rather than on the first command."""
        link = self._link_on(self.session)
        if link is not None and not link.wait_ready() and link.no_python:
            with self._link_lock:
                self._use_supervisor = False

    def supervisor(self) -> SupervisorLink:
        """The link to the run supervisor, (re)connecting when needed."""
        link = self._link_on(self.session)
        if link is None:
            raise UsageError(NO_PYTHON)
        return link

    def _link_on(self, session: Session) -> SupervisorLink | None:
        """The supervisor link on this session, opened if needed; None where it cannot run."""
        from colablink.ssh.runs import SupervisorLink

        with self._link_lock:
            if not self._use_supervisor:
                return None
            if self._link is not None and self._link.alive and self._link_session is session:
                return self._link
            if self._link is not None:
                self._link.close()
            self._link = SupervisorLink.open(session, self.profile.remote_root)
            self._link_session = session
            return self._link

    def run(
        self,
        command: Command,
        *,
        stdin: bytes | IO[bytes] | None = None,
        on_stdout: OnOutput | None = None,
        on_stderr: OnOutput | None = None,
    ) -> ExecResult:
        """Run ``command`` remotely and collect its output; the callbacks, when given, also see
        it as it arrives."""
        out: list[bytes] = []
        err: list[bytes] = []
        code = self.exec(
            command, on_stdout=_tee(out, on_stdout), on_stderr=_tee(err, on_stderr), stdin=stdin
        )
        return ExecResult(code, b"".join(out), b"".join(err))

    def open_shell(self, cols: int, rows: int, cwd: str | None = None) -> Channel:
        """An interactive login shell on a PTY, starting in ``cwd`` (default: the remote source
        root), with the environment runs get."""
        from colablink.ssh import pty

        directory = self.profile.remote_root if cwd is None else cwd
        return pty.open_shell(self.session, directory, cols, rows, self.environment())

    def open_to_sshd(self) -> Channel:
        """A ``direct-tcpip`` channel to the runtime's sshd, for ``colablink proxy``."""
        from colablink.ssh import sshd_channel

        session = self.session
        with self._lock:
            known = self._sshd_address
        if known is None or known[0] is not session:
            known = (session, sshd_channel.sshd_address(session))
            with self._lock:
                self._sshd_address = known
        return sshd_channel.open_to_sshd(session, known[1])

    # -- status ------------------------------------------------------------------------------

    def status(self, *, agent_running: bool = False) -> Status:
        """Reachability, round trip, GPU and free disk; never raises for an unreachable runtime."""
        try:
            session = self.session
            # ping, not paramiko's global_request: that one waits forever on a silent tunnel.
            rtt_ms = session.ping(timeout=self._connect_timeout) * 1000
            probe = session.run(self._status_probe())
        except ColabLinkError as exc:
            return Status(
                **self._status_base(agent_running),
                reachable=False,
                rtt_ms=None,
                gpu=None,
                disk_free_bytes=None,
                problem=exc.message,
            )
        resources_text, _, rest = probe.stdout.decode(errors="replace").partition(_PORTS_SPLIT)
        listening_text, _, jupyter_text = rest.partition(_JUPYTER_SPLIT)
        jupyter = server_state.parse(jupyter_text)
        found = parse_probe(resources_text)
        total = found.resources.gpu_memory_total_mib
        gpu = None if found.gpu_name is None or total is None else Gpu(found.gpu_name, total)
        return Status(
            **self._status_base(agent_running),
            reachable=True,
            rtt_ms=round(rtt_ms, 2),
            gpu=gpu,
            disk_free_bytes=found.resources.disk_free_bytes,
            problem=None,
            resources=found.resources,
            listening=parse_listening(listening_text),
            runs_in_progress=self._runs_in_progress(session),
            jupyter_port=None if jupyter is None else jupyter.port,
            jupyter_run_id=None if jupyter is None else jupyter.run_id,
        )

    def _runs_in_progress(self, session: Session) -> int | None:
        try:
            link = self._link_on(session)
            return None if link is None else sum(r.state == "running" for r in link.list())
        except ColabLinkError:
            return None

    def _status_base(self, agent_running: bool) -> dict[str, Any]:
        """Read after dialing: the dial may have taken up a re-initialized profile."""
        return {
            "profile": self.profile.name,
            "host": self.profile.host,
            "port": self.profile.port,
            "username": self.profile.username,
            "remote_root": self.profile.remote_root,
            "agent_running": agent_running,
        }

    def _status_probe(self) -> str:
        resources = probe_command(self.profile.remote_root)
        jupyter = server_state.probe_command(self.profile.remote_root)
        listening = f"echo {_PORTS_SPLIT}; {LISTENING_COMMAND}"
        return f"{resources}; {listening}; echo {_JUPYTER_SPLIT}; {jupyter}"

    # -- files -------------------------------------------------------------------------------

    def upload(
        self,
        local: Path,
        remote: str | None = None,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> str:
        """Copy a local file or tree to the runtime (relative paths are under the remote root).

        Returns the remote path written to. ``cancel`` stops it, leaving nothing behind.
        """
        from colablink.ssh import transfer  # loaded by the verbs that move files, not by every exec

        local = Path(local).absolute()
        if not local.exists():
            raise UsageError(f"{local} does not exist.")
        remote = remote or local.name
        transfer.upload(
            self.session,
            local,
            remote,
            progress=_bytes_only(progress),
            root=self.profile.remote_root,
            cancel=cancel,
        )
        return transfer.resolve_remote(remote, self.profile.remote_root)

    def download(
        self,
        remote: str,
        local: Path | str | None = None,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> Path:
        """Copy a remote file or tree here (into ``local`` if it is a directory or ends in "/";
        default: cwd). ``cancel`` stops it, leaving ``local`` as it was."""
        from colablink.ssh import transfer

        if local is None:
            target: Path | str = Path.cwd()
        else:
            target = str(Path(local).absolute())
            if str(local).endswith("/") and not target.endswith("/"):
                target += "/"
        return transfer.download(
            self.session,
            remote,
            target,
            progress=_bytes_only(progress),
            root=self.profile.remote_root,
            cancel=cancel,
        )

    # -- forwards ----------------------------------------------------------------------------

    def forward(self, remote_port: int, local_port: int = 0, remote_host: str = REMOTE_HOST) -> int:
        """Serve the runtime's ``remote_host:remote_port`` on a local port; return that port."""
        from colablink.ssh.forward import LocalForward

        _ = self.session  # a dial that fails says so here, not at the first client
        # Each client rides the session of the moment: after a drop, the re-dialed one.
        forward = LocalForward(
            lambda: self.session, remote_port, local_port, remote_host=remote_host
        )
        port = forward.start()
        with self._lock:
            self._forwards[port] = forward
        return port

    def unforward(self, local_port: int) -> bool:
        """Stop the forward on ``local_port``; False if there was none."""
        with self._lock:
            forward = self._forwards.pop(local_port, None)
        if forward is None:
            return False
        forward.stop()
        return True

    def forwards(self) -> dict[int, int]:
        """Open forwards: local port → remote port."""
        with self._lock:
            return {port: int(fw.remote_port) for port, fw in self._forwards.items()}


def _through_holder(path: Path, timeout: float) -> socket.socket:
    sock = request_proxy(path, timeout)
    if sock is None:
        raise Unreachable("No editor window holds the profile's connection any more.")
    return sock


def _tee(into: list[bytes], also: OnOutput | None) -> OnOutput:
    """Collect output chunks into ``into``, passing each to ``also`` as well when given."""
    if also is None:
        return into.append

    def both(data: bytes) -> None:
        into.append(data)
        also(data)

    return both


def _bytes_only(progress: Progress | None) -> Callable[[Any], object] | None:
    """Adapt a ``progress(done, total)`` callback in bytes to the transfer module's reports."""
    if progress is None:
        return None
    return lambda report: progress(report.bytes_done, report.bytes_total)
