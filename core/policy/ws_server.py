"""The openpi WebSocket transport for a policy server: on connect the server's metadata (msgpack), then
one msgpack observation -> one msgpack reply per message; on an error the traceback as a text frame and
close 1011; `GET /healthz` answers 200. Shared by core.policy.serve (ONNX models) and
policies.serve_lerobot (LeRobot policies), so both speak exactly what core.policy.remote's client
expects. Frames are unpacked with openpi-client's msgpack_numpy, which never unpickles (object arrays
are refused). Imports neither onnxruntime nor torch.
"""

from __future__ import annotations

import logging
import traceback
from http import HTTPStatus
from typing import Any, Protocol

log = logging.getLogger("core.policy.serve")


class Servable(Protocol):
    """What a server answers with: its connect-time metadata and one reply per request dict."""

    metadata: dict[str, Any]

    def infer(self, request: dict[str, Any]) -> dict[str, Any]: ...


def serve(server: Servable, *, host: str, port: int) -> None:
    """Serve until interrupted, one thread per connection (a server whose model is not thread-safe locks
    in its infer)."""
    from openpi_client import msgpack_numpy
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.server import ServerConnection
    from websockets.sync.server import serve as ws_serve

    packer = msgpack_numpy.Packer()

    def health(connection: ServerConnection, request: Any) -> Any:
        if request.path == "/healthz":
            return connection.respond(HTTPStatus.OK, "OK\n")
        return None

    def handler(connection: ServerConnection) -> None:
        connection.send(packer.pack(server.metadata))
        while True:
            try:
                message = connection.recv()
            except ConnectionClosed:
                return
            try:
                if isinstance(message, str):
                    raise ValueError("expected a binary msgpack frame")
                request = msgpack_numpy.unpackb(message)
                if not isinstance(request, dict):
                    raise ValueError("the observation must be a map")
                connection.send(packer.pack(server.infer(request)))
            except Exception:
                # As openpi's server: the traceback as text, then close with "internal error".
                connection.send(traceback.format_exc())
                connection.close(code=1011, reason="policy error")
                return

    with ws_serve(handler, host, port, compression=None, max_size=None, process_request=health) as ws_server:
        log.info("serving %s on ws://%s:%d", server.metadata.get("policy"), host, port)
        print(f"policy server ready on ws://{host}:{port}", flush=True)
        ws_server.serve_forever()
