"""The kernel picker's and the ``# %%`` cells' requests: ``jupyter/ensure``, ``cells/run`` and
``cells/restart``, on the profile the window holds (its own connection or its daemon's)."""

from __future__ import annotations

from colablink.helper.blocking import run_blocking
from colablink.helper.cells import CellKernels
from colablink.helper.jupyter import JupyterForwards
from colablink.helper.protocol import (
    CellRestartParams,
    CellRunParams,
    ExecResult,
    JupyterEnsureParams,
    JupyterEnsureResult,
    Method,
)
from colablink.helper.server import Helper, register_request


def register(helper: Helper) -> None:
    server, hub = helper.server, helper.hub
    forwards = JupyterForwards()
    cells = CellKernels(forwards, helper.execs)

    async def jupyter_ensure(params: JupyterEnsureParams) -> JupyterEnsureResult:
        live = await hub.held(params["profile"])
        forwarded = await run_blocking(
            lambda: forwards.ensure(live, None), name="colablink-jupyter-ensure"
        )
        return forwarded.result()

    async def cell_run(params: CellRunParams) -> ExecResult:
        live = await hub.held(params["profile"])
        return {"exitCode": await cells.run(live, params)}

    async def cell_restart(params: CellRestartParams) -> None:
        live = await hub.held(params["profile"])
        await run_blocking(lambda: cells.restart(live, params), name="colablink-cell-restart")

    register_request(server, Method.JUPYTER_ENSURE, JupyterEnsureParams, jupyter_ensure)
    register_request(server, Method.CELL_RUN, CellRunParams, cell_run)
    register_request(server, Method.CELL_RESTART, CellRestartParams, cell_restart)
