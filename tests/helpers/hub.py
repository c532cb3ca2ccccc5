"""A local stand-in for the Hugging Face Hub: a tiny HTTP server on 127.0.0.1 that serves the
files of one saved model as a repository, with the endpoints ``snapshot_download`` and
``hf_hub_download`` use (the revision, its file tree, and each file with its commit and ETag
headers). Point the hub client at it with ``HF_ENDPOINT``; nothing reaches the network."""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@contextlib.contextmanager
def local_hub(folder: str | Path, repo_id: str) -> Iterator[dict]:
    """Serve ``folder``'s files as the Hub repository ``repo_id``. Yields ``{"endpoint": URL,
    "requests": [path, ...]}`` (the requests it answered, for the test to check)."""
    files = {p.name: p.read_bytes() for p in Path(folder).iterdir() if p.is_file()}
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _answer(self, body: bytes | None):
            requests.append(f"{self.command} {self.path}")
            info_prefix = f"/api/models/{repo_id}"
            file_prefix = f"/{repo_id}/resolve/"
            if self.path.startswith(f"{info_prefix}/tree/"):
                tree = [
                    {"type": "file", "path": f, "size": len(d), "oid": hashlib.sha1(d).hexdigest()}
                    for f, d in files.items()
                ]
                return self._send(
                    200, json.dumps(tree).encode(), {"Content-Type": "application/json"}, body is not None
                )
            if self.path.startswith(info_prefix):
                payload = json.dumps(
                    {"id": repo_id, "modelId": repo_id, "sha": COMMIT, "siblings": [{"rfilename": f} for f in files]}
                ).encode()
                return self._send(200, payload, {"Content-Type": "application/json"}, body is not None)
            if self.path.startswith(file_prefix):
                name = self.path[len(file_prefix) :].split("/", 1)[-1].split("?")[0]
                if name in files:
                    data = files[name]
                    headers = {
                        "X-Repo-Commit": COMMIT,
                        "ETag": f'"{hashlib.sha256(data).hexdigest()}"',
                        "Content-Type": "application/octet-stream",
                    }
                    return self._send(200, data, headers, body is not None)
            self._send(404, b"{}", {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": COMMIT}, body is not None)

        def _send(self, status, data, headers, with_body):
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if with_body:
                self.wfile.write(data)

        def do_GET(self):
            self._answer(b"")

        def do_HEAD(self):
            self._answer(None)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"endpoint": f"http://127.0.0.1:{server.server_port}", "requests": requests}
    finally:
        server.shutdown()
        server.server_close()
