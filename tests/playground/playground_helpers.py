"""Shared by the playground tests: a server on a free loopback port, run to completion, program output."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``tapegrad playground`` in a subprocess on a free port, stopped on exit."""

    def __init__(self, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        code = ("import sys; from tapegrad.cli.main import main\n"
                "if __name__ == '__main__':\n    sys.exit(main(sys.argv[1:]))\n")
        self.script = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"tapegrad-playground-{self.port}.py")
        with open(self.script, "w") as fh:
            fh.write(code)
        self.proc = subprocess.Popen([sys.executable, self.script, "playground", "--port", str(self.port), *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.get("/api/options")
                break
            except (urllib.error.URLError, ConnectionError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    out = self.proc.stdout.read() if self.proc.poll() is not None else ""
                    self.close()
                    raise RuntimeError(f"the playground server did not start: {out}")
                time.sleep(0.2)

    def request(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                raw = r.read()
                return r.status, (json.loads(raw) if r.headers.get("Content-Type", "").startswith("application/json")
                                  else raw)
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def get(self, path: str):
        return self.request("GET", path)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        if os.path.exists(self.script):
            os.remove(self.script)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def run_program(code: str, tmp_path) -> list[tuple[float, float]]:
    """Run a code-panel program in a fresh Python; its (loss, val_loss) per epoch as printed."""
    path = tmp_path / "playground.py"
    path.write_text(code)
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "playground.tapegrad").exists()
    return [(float(a), float(b)) for a, b in re.findall(r"loss (\S+), val_loss (\S+)", out.stdout)]
