#!/usr/bin/python3
"""A stand-in ngrok agent for tests: the local API pyngrok drives, and ngrok's known failures.

Its behaviour comes from NGROK_STAND_IN_MODE: "ok", "8013" (card required for TCP), "108"
(one agent session only) or "badtoken". Every argv it is started with is appended, as a JSON
line, to the file named by NGROK_STAND_IN_RECORD.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

PUBLIC_URL = "tcp://4.tcp.eu.ngrok.io:17023"
MODE = os.environ.get("NGROK_STAND_IN_MODE", "ok")
FAILURES = {
    "108": "authentication failed: Your account is limited to 1 simultaneous ngrok agent "
    "sessions.\\n\\nERR_NGROK_108",
    "badtoken": "authentication failed: The authtoken you specified is properly formed, "
    "but it is invalid.\\n\\nERR_NGROK_107",
}


def log(line: str) -> None:
    sys.stdout.write(f"t=2026-01-01T00:00:00+0000 lvl=info {line}\n")
    sys.stdout.flush()


class Api(BaseHTTPRequestHandler):
    endpoints: ClassVar[dict[str, dict[str, Any]]] = {}

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def reply(self, status: int, body: dict[str, Any] | None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.reply(200, {"endpoints": list(self.endpoints.values())})

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if MODE == "8013":
            message = (
                "failed to start tunnel: You must add a credit or debit card before you can use "
                "TCP endpoints on a free account.\r\n\r\nERR_NGROK_8013"
            )
            self.reply(502, {"error_code": 103, "status_code": 502, "msg": message})
            return
        endpoint = {
            "name": request["name"],
            "uri": f"/api/endpoints/{request['name']}",
            "url": PUBLIC_URL,
            "public_url": PUBLIC_URL,
            "upstream": request.get("upstream", {}),
        }
        self.endpoints[request["name"]] = endpoint
        self.reply(201, endpoint)

    def do_DELETE(self) -> None:
        self.endpoints.pop(self.path.rsplit("/", 1)[-1], None)
        self.reply(204, None)


def main() -> int:
    with open(os.environ["NGROK_STAND_IN_RECORD"], "a") as record:
        record.write(json.dumps(sys.argv) + "\n")
    config = sys.argv[sys.argv.index("--config") + 1]
    with open(config) as handle:
        token = json.load(handle)["agent"]["authtoken"]
    if MODE in FAILURES or not token:
        err = FAILURES.get(MODE, FAILURES["badtoken"])
        sys.stdout.write(f't=2026-01-01T00:00:00+0000 lvl=eror msg="session closed" err="{err}"\n')
        sys.stdout.flush()
        return 1
    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    log(f'msg="starting web service" obj=web addr=127.0.0.1:{server.server_address[1]}')
    log('msg="tunnel session started" obj=tunnels.session')
    log('msg="client session established" obj=csess id=0123456789ab')
    threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
