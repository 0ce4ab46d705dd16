"""The SSH layer: one paramiko session, commands, transfers, forwards, PTYs and the remote programs'
start-up. Nothing here knows profiles, sync or the CLI."""
