"""A real `chroma run` on loopback, for the bench's server-mode system and for the tests.

Started from the `chroma` script next to this interpreter, on a free port (or a given one, so a
test can stop and restart it on the same port and folder), and ready once its heartbeat answers.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from rag.errors import StoreError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ChromaServer:
    """`chroma run --path <path>` on 127.0.0.1; `with ChromaServer(p) as srv:` starts and stops it."""

    def __init__(self, path: Path, port: int | None = None, log: Path | None = None):
        self.path, self.port, self.log = Path(path), port or free_port(), log
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> None:
        exe = Path(sys.executable).parent / "chroma"
        out = self.log.open("ab") if self.log else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(
                [str(exe), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT if self.log else subprocess.DEVNULL,
                stdin=subprocess.DEVNULL,
            )
        finally:
            if self.log:
                out.close()
        import chromadb

        deadline = time.time() + timeout
        while True:
            try:
                chromadb.HttpClient(host="127.0.0.1", port=self.port).heartbeat()
                return
            except Exception:  # the server is still starting: any failure here means "not yet"
                if time.time() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise StoreError(
                        f"`{exe} run --path {self.path} --port {self.port}` did not start within {timeout:.0f} s"
                        + (f": see {self.log}" if self.log else "")
                    ) from None
                time.sleep(0.5)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def __enter__(self) -> ChromaServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
