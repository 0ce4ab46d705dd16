"""Turning connection info into a profile (``colablink init``), and undoing it (``forget``)."""
