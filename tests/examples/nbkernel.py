"""Run notebooks in a real Jupyter kernel (nbclient + ipykernel) and read what they recorded."""

from __future__ import annotations

import re

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")


class RecordingClient(nbclient.NotebookClient):
    """A notebook client that also counts the kernel's messages by type, per cell."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.messages: dict[int, list[str]] = {}

    def process_message(self, msg, cell, cell_index):
        self.messages.setdefault(cell_index, []).append(msg["msg_type"])
        return super().process_message(msg, cell, cell_index)


def execute(nb, cwd, timeout: int = 300) -> RecordingClient:
    """Execute ``nb`` in place in a fresh python3 kernel started in ``cwd``."""
    client = RecordingClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return client


def stream_text(cell) -> str:
    """Everything the cell wrote to stdout/stderr, in order (carriage returns kept)."""
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def images(cell) -> list:
    return [o for o in cell.outputs if o.output_type in ("display_data", "execute_result") and "image/png" in o.data]


def cells_tagged(nb, tag: str) -> list:
    return [c for c in nb.cells if c.cell_type == "code" and tag in c.metadata.get("tags", [])]


def numbers(text: str) -> list[float]:
    return [float(v) for v in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", text)]
