"""Notebooks on the runtime: its Jupyter server (``jupyter_server.py``), a small client of the
server's REST and websocket API (``kernel_client.py``), and headless notebook runs
(``notebook_run.py``), all over any holder of the profile (``runtime_link.py``)."""
