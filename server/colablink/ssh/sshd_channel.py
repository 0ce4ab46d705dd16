"""A byte stream to the runtime's sshd itself, carried inside an open session.

``colablink proxy`` gives OpenSSH (Remote-SSH, ``ssh colablink-<profile>``) a second SSH
connection that rides the held one as a ``direct-tcpip`` channel, so a channel that takes one
connection at a time (Colab's) never sees a second. The address to open is where the runtime's
sshd accepted the held connection: the server half of ``SSH_CONNECTION`` in a remote command,
whatever bridge sits in front of it. The runtime reports it, so it is checked, not trusted.
"""

from __future__ import annotations

import ipaddress

import paramiko

from colablink.errors import RemoteError
from colablink.ssh.session import ConnectionLost, Session


class ForwardingRefused(RemoteError):
    """The runtime's sshd does not allow direct-tcpip channels (AllowTcpForwarding no)."""


def sshd_address(session: Session) -> tuple[str, int]:
    result = session.run(["sh", "-c", 'printf %s "$SSH_CONNECTION"'])
    fields = result.stdout.decode("ascii", "replace").split()
    try:
        if result.exit_code != 0 or len(fields) != 4:
            raise ValueError
        host, port = str(ipaddress.ip_address(fields[2])), int(fields[3])
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        raise RemoteError(
            "The runtime did not say where its sshd listens (SSH_CONNECTION); "
            "use the transport directly."
        ) from None
    return host, port


def open_to_sshd(session: Session, address: tuple[str, int]) -> paramiko.Channel:
    try:
        return session.transport.open_channel("direct-tcpip", address, ("127.0.0.1", 0))
    except paramiko.ChannelException:
        raise ForwardingRefused(
            "The runtime's sshd refuses port forwarding (AllowTcpForwarding), so ssh goes "
            "through the profile's own transport instead."
        ) from None
    except (paramiko.SSHException, EOFError, OSError):
        raise ConnectionLost("The connection to the runtime is gone; reconnect.") from None
