"""The daemon: the local ``colablink watch`` process that holds a profile's connection and serves
it on a private unix socket, and the client the other commands reach it with."""
