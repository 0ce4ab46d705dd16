"""The editor helper: a pygls JSON-RPC server over stdio that the VS Code extension drives.

It holds the profiles of one editor window and exposes the same core objects as the CLI
(``colablink.connection``, the sync engine) as the methods in ``colablink.helper.protocol``.
"""
