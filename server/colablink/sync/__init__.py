"""Two-way sync between a local project and a ColabLink runtime, over one SSH connection.

Sources flow up (push), outputs flow back (pull). ``engine.SyncEngine`` runs both and is hosted by
``colablink watch`` and the VS Code helper; ``colablink sync`` runs one pass.
"""
