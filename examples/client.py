"""A minimal client of the pdit gateway protocol: run a script, print every event as JSON.

Usage::

    python examples/client.py http://localhost:8888/ TOKEN script.py [SESSION_ID]

URL is the Jupyter server's base URL and TOKEN its token (``jupyter server list`` shows both).
Each event the gateway sends is printed on its own line as JSON, up to the ``complete`` event
of the execution. The full contract is docs/protocol.md; this file shows the few steps
a client needs. It uses only Tornado, which comes with jupyter_server.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path

from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

# Every wait on the socket has a bound, so a lost server never hangs the client.
CONNECT_TIMEOUT = 30.0  # seconds to connect and get the welcome
EVENT_TIMEOUT = 600.0  # seconds without any event before giving up


async def run(base_url: str, token: str, script: Path, session_id: str) -> int:
    # 1. Connect to the session's channel: ws(s)://HOST/BASE/pdit/api/sessions/{id}/channel.
    #    The session (and its kernel) is created if it does not exist yet.
    #    Authentication is jupyter_server's: the token goes in the Authorization header.
    ws_url = base_url.replace("http", "ws", 1).rstrip("/")
    request = HTTPRequest(
        f"{ws_url}/pdit/api/sessions/{session_id}/channel",
        headers={"Authorization": f"token {token}"},
        connect_timeout=CONNECT_TIMEOUT,
    )
    connection = await asyncio.wait_for(websocket_connect(request), CONNECT_TIMEOUT)

    async def receive(timeout: float) -> dict:
        message = await asyncio.wait_for(connection.read_message(), timeout)
        if message is None:  # the server closed the connection
            raise ConnectionError(f"the channel closed (code {connection.close_code})")
        return json.loads(message)

    try:
        # 2. The first frame from the server is always `welcome`: the session id, the
        #    protocol version, the kernel's state and `lastSeq`, the sequence number of the
        #    session's latest event. A client that reconnects sends `resume {lastSeq}` as
        #    its first frame to get what it missed; a new client just sends its request.
        welcome = await receive(CONNECT_TIMEOUT)
        print(json.dumps(welcome), flush=True)

        # 3. Ask for an execution. Only `script` is required; naming the execution lets us
        #    pick its events out of the session's stream (other clients may run things too).
        execution_id = uuid.uuid4().hex
        await connection.write_message(
            json.dumps(
                {
                    "type": "execute",
                    "executionId": execution_id,
                    "script": script.read_text(encoding="utf-8"),
                    "scriptName": script.name,
                    # optional: "lineRange": {"from": 3, "to": 7}, "timeout": 30 (seconds)
                }
            )
        )

        # 4. Read events until this execution's `complete`, which always comes last:
        #    queued, expressions, then per statement running / stream / display / clear /
        #    result, maybe cancelled, and complete {status}. Every event has a `seq`.
        while True:
            event = await receive(EVENT_TIMEOUT)
            print(json.dumps(event), flush=True)
            if event["type"] == "error" and event.get("executionId") in (None, execution_id):
                return 2  # the request was refused (the message says why)
            if event["type"] == "complete" and event.get("executionId") == execution_id:
                return 0 if event["status"] == "ok" else 1
    finally:
        # 5. Closing the socket does not stop anything: the session, its kernel and a
        #    running execution go on (DELETE /pdit/api/sessions/{id} shuts them down).
        connection.close()


def main() -> int:
    if len(sys.argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    base_url, token, script = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    session_id = sys.argv[4] if len(sys.argv) == 5 else "example-client"
    return asyncio.run(run(base_url, token, script, session_id))


if __name__ == "__main__":
    sys.exit(main())
