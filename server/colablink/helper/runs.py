"""The Runs view's requests: the runs a profile's supervisor keeps, and a terminal attached to one.

Attaching streams the run's output from the byte asked for (the output so far, then live) as
``execOutput`` notifications under the terminal's ``execId``; a dropped link is re-dialed and the
run followed on, told as ``execNotice`` ("link lost; reconnecting…", "reconnected"). Cancelling the
request (the terminal closed, Ctrl+C) interrupts the run, as it does an exec. Both go through the
profile's daemon when one holds it (``LiveProfile.runs``/``attach``), else the window's connection.
"""

from __future__ import annotations

from colablink.helper.blocking import run_blocking
from colablink.helper.execs import ExecRunner, Forward, Run, notice_sender
from colablink.helper.live import LiveProfile
from colablink.helper.params import require
from colablink.helper.protocol import (
    ExecResult,
    RunAttachParams,
    RunEntry,
    RunsResult,
)


async def list_runs(live: LiveProfile) -> RunsResult:
    found = await run_blocking(live.runs, name="colablink-runs")
    entries: list[RunEntry] = [
        {
            "id": run.id,
            "command": run.command,
            "state": run.state,
            "started": run.started,
            "ended": run.ended,
            "exitCode": run.exit_code,
        }
        for run in reversed(found)  # newest first, as the view lists them
    ]
    return {"runs": entries}


async def attach(live: LiveProfile, execs: ExecRunner, params: RunAttachParams) -> ExecResult:
    notifier = execs.notifier
    start = params.get("fromByte", 0)
    require(start >= 0, "params.fromByte must be a byte offset.")
    exec_id = params["execId"]
    out = Forward(notifier, exec_id, "stdout")
    err = Forward(notifier, exec_id, "stderr")

    def work(run: Run) -> int:
        code = live.attach(
            params["runId"],
            on_stdout=out,
            on_stderr=err,
            from_pos=start,
            cancel=run.cancel,
            detach=run.detach,
            on_notice=notice_sender(notifier, exec_id),
        )
        out(b"", final=True)
        err(b"", final=True)
        return code

    return {"exitCode": await execs.tracked(work, f"colablink-attach-{exec_id}")}
