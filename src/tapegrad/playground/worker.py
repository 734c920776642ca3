"""One session's training, in a process of its own.

The worker seeds tapegrad with ``tg.random.set_seed`` (global per process, so each
session's seed is its own), builds the data and model with ``config.build`` and trains
with one ``model.fit`` call, exactly the program the code panel shows. A callback
inside ``fit`` obeys the server's commands between batches (pause, step one epoch,
stop, save the model) and sends pictures a few times a second; it reads the model but
never changes it, so the losses are those of the program.

Messages to the worker: ``("start", n)``, ``("pause", n)``, ``("step", n)`` (``n`` numbers the
commands; each state carries the last one seen), ``("stop",)``, ``("save", request_id)``. From it: ``("state", dict)``, ``("model", request_id, bytes)``,
``("error", text)``.
"""

from __future__ import annotations

import os
import tempfile
import time
import traceback

import numpy as np

import tapegrad as tg

from . import config as C

__all__ = ["main"]

BOUNDARY_RES = 64  # decision-boundary picture: pixels per side
UNIT_RES = 20  # each hidden unit's heat map
LANDSCAPE_RES = 41  # loss landscape of the perceptron: weight pairs per side
SEND_EVERY = 0.15  # seconds between pictures while training
MAX_PATH = 4000  # points of the optimizer's path kept for the landscape


def _u8(values: np.ndarray, lo: float, hi: float) -> bytes:
    span = hi - lo if hi > lo else 1.0
    return np.clip(np.rint((values - lo) / span * 255), 0, 255).astype(np.uint8).tobytes()


class Pictures:
    """The pictures of one model on one data set: boundary, hidden units, landscape."""

    def __init__(self, cfg: dict, model, train, test) -> None:
        self.cfg, self.model, self.train = cfg, model, train
        x_all = np.concatenate([train[0], test[0]])
        self.extent = C.grid_extent(x_all)
        self.grid = self._grid(BOUNDARY_RES)
        self.unit_grid = self._grid(UNIT_RES)
        self.units, self.out_act = C.output_layer(cfg)
        self.perceptron = not cfg["hidden"] and self.units == 1
        self.path: list[list[float]] = []
        self.loss_fn = tg.losses.get(cfg["loss"])
        self.loss_fn.reduction = "none"

    def _grid(self, res: int) -> np.ndarray:
        x0, x1, y0, y1 = self.extent
        gx, gy = np.meshgrid(np.linspace(x0, x1, res), np.linspace(y1, y0, res))  # row 0 at the top
        return np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32)

    def boundary(self) -> dict:
        """Class scores over the grid: one channel (P(class 1)) for one output unit, else one per class."""
        p = np.asarray(self.model.predict(self.grid, verbose=0), dtype=np.float64)
        if self.out_act == "tanh":  # hinge: the score is in [-1, 1]
            p = (p + 1) / 2
        p = np.nan_to_num(p, nan=0.5)
        return {"res": BOUNDARY_RES, "channels": p.shape[1], "data": _u8(p.T, 0.0, 1.0)}

    def hidden_units(self) -> list[dict]:
        """Each hidden unit's output over the grid, scaled to its own range."""
        out, layers = [], []
        h = tg.constant(self.unit_grid)
        with tg.no_grad():
            for layer in self.model.layers[:-1]:
                h = layer(h, training=False)
                if isinstance(layer, tg.layers.Dense):
                    layers.append(np.nan_to_num(h.numpy().astype(np.float64)))
        for i, a in enumerate(layers):
            for j in range(a.shape[1]):
                lo, hi = float(a[:, j].min()), float(a[:, j].max())
                data = _u8(a[:, j], lo, hi) if hi > lo else bytes([128]) * len(a)  # a constant unit: neutral
                out.append({"layer": i, "unit": j, "lo": lo, "hi": hi, "data": data})
        return out

    def record_step(self) -> None:
        if self.perceptron:
            w = self.model.layers[-1].kernel.numpy().ravel()
            self.path.append([float(w[0]), float(w[1])])
            if len(self.path) > MAX_PATH:  # keep the start, thin the rest
                self.path = self.path[:1] + self.path[2::2]

    def landscape(self) -> dict | None:
        """The perceptron's training loss over its two weights (bias held at its current value),
        computed with the model's own tapegrad loss, and the optimizer's path."""
        if not self.perceptron:
            return None
        layer = self.model.layers[-1]
        b = float(layer.bias.numpy().ravel()[0])
        pts = np.array(self.path)
        lo, hi = pts.min(0), pts.max(0)
        centre, half = (lo + hi) / 2, np.maximum((hi - lo) / 2 * 1.3, 1.0)
        ext = [centre[0] - half[0], centre[0] + half[0], centre[1] - half[1], centre[1] + half[1]]
        w1, w2 = np.meshgrid(np.linspace(ext[0], ext[1], LANDSCAPE_RES), np.linspace(ext[3], ext[2], LANDSCAPE_RES))
        ws = np.stack([w1.ravel(), w2.ravel()], 1)  # (G*G, 2)
        x, y = self.train
        z = tg.constant((ws @ x.T.astype(np.float64) + b)[..., None].astype(np.float32))  # (G*G, n, 1)
        pred = tg.activations.get(self.out_act)(z)
        yy = np.broadcast_to(y.reshape(1, -1, 1), pred.shape)
        with tg.no_grad():
            loss = self.loss_fn(yy, pred).numpy().astype(np.float64).mean(1)
        loss = loss + self.cfg["l1"] * np.abs(ws).sum(1) + self.cfg["l2"] * (ws ** 2).sum(1)
        loss = np.nan_to_num(loss, nan=np.nanmax(loss[np.isfinite(loss)], initial=1.0), posinf=1e6)
        lg = np.log10(loss + 1e-6)
        return {"res": LANDSCAPE_RES, "extent": ext, "lo": float(loss.min()), "hi": float(loss.max()),
                "data": _u8(lg, float(lg.min()), float(lg.max())), "path": list(self.path)}

    def all(self) -> dict:
        return {"boundary": self.boundary(), "units": self.hidden_units(), "landscape": self.landscape()}


class Stopped(Exception):
    """The server asked the worker to end."""


class Control(tg.callbacks.Callback):
    """Inside ``fit``: obey the server between batches, record the curves, send pictures."""

    def __init__(self, worker: "Worker") -> None:
        super().__init__()
        self.w = worker

    def on_epoch_begin(self, epoch, logs=None):
        self.w.epoch_began = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        w = self.w
        w.pictures.record_step()
        w.poll(block=False)
        if w.stopping:
            self.model.stop_training = True
        elif time.monotonic() - w.last_sent > 2 * SEND_EVERY:  # a long epoch: show it moving
            w.send_state(pictures=True)

    def on_epoch_end(self, epoch, logs=None):
        w = self.w
        w.epoch = epoch + 1
        for k, v in (logs or {}).items():
            w.history.setdefault(k, []).append(float(v))
        stop = w.stop_cb
        if stop is not None and stop.best is not None and stop.best_epoch is not None:
            w.best_epoch = stop.best_epoch + 1
        if w.stepping:
            w.stepping, w.running = False, False
        if self.model.stop_training and not w.stopping:
            return  # early stopping: ``fit`` ends now and the worker reports "done"
        w.pace()
        if not w.running or time.monotonic() - w.last_sent > SEND_EVERY:
            w.send_state(pictures=True)
        while not w.running and not w.stopping:  # paused: wait for start, step or stop
            w.poll(block=True)
        if w.stopping:
            self.model.stop_training = True


class Worker:
    def __init__(self, conn, cfg: dict) -> None:
        self.conn, self.cfg = conn, cfg
        self.running = self.stepping = self.stopping = False
        self.status = "ready"
        self.epoch, self.best_epoch, self.stopped_epoch = 0, None, None
        self.history: dict[str, list[float]] = {}
        self.sent_history = 0
        self.last_sent = 0.0
        self.stop_cb = None
        self.epoch_began = 0.0
        self.seq = 0

    def send(self, *msg) -> None:
        self.conn.send(msg)

    def send_state(self, pictures: bool) -> None:
        n = self.sent_history
        status = ("running" if self.running else "paused") if self.status == "training" else self.status
        state = {"status": status, "epoch": self.epoch, "history_from": n,
                 "history": {k: v[n:] for k, v in self.history.items()},
                 "best_epoch": self.best_epoch, "stopped_epoch": self.stopped_epoch, "seq": self.seq}
        self.sent_history = self.epoch
        if pictures:
            state["pictures"] = self.pictures.all()
        self.send("state", state)
        self.last_sent = time.monotonic()

    def handle(self, msg) -> None:
        kind = msg[0]
        if kind in ("start", "step", "pause"):
            self.seq = msg[1]  # the server's number for this command: states say which they follow
        if kind == "start":
            self.running, self.stepping = True, False
        elif kind == "step":
            self.running, self.stepping = True, True
        elif kind == "pause":
            self.running = self.stepping = False
            if self.status == "training":
                self.send_state(pictures=False)
        elif kind == "stop":
            self.stopping = True
        elif kind == "save":
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "model.tapegrad")
                self.model.save(path)
                with open(path, "rb") as fh:
                    self.send("model", msg[1], fh.read())

    def pace(self) -> None:
        """Hold each epoch to 1/speed seconds (the page's speed), still obeying commands meanwhile."""
        speed = self.cfg["speed"]
        if not speed:
            return
        while self.running and not self.stopping:
            left = self.epoch_began + 1.0 / speed - time.monotonic()
            if left <= 0 or not self.conn.poll(left):
                return
            self.poll(block=False)

    def poll(self, block: bool) -> None:
        while block or self.conn.poll():
            try:
                msg = self.conn.recv()
            except EOFError:  # the server is gone
                self.stopping = True
                return
            self.handle(msg)
            block = False

    def run(self) -> None:
        cfg = self.cfg
        tg.random.set_seed(cfg["seed"])
        self.model, train, test = C.build(cfg)
        self.pictures = Pictures(cfg, self.model, train, test)
        self.pictures.record_step()
        # The loss before training (epoch 0 of the curves): evaluate draws no random numbers and
        # changes no weights, so the epochs that follow are the program's.
        before = self.model.evaluate(*train, batch_size=cfg["batch_size"], verbose=0, return_dict=True)
        val = self.model.evaluate(*test, batch_size=cfg["batch_size"], verbose=0, return_dict=True)
        data = {"extent": self.pictures.extent, "classes": cfg["classes"],
                "x_train": np.round(train[0], 4).tolist(), "y_train": np.asarray(train[1]).ravel().astype(int).tolist(),
                "x_test": np.round(test[0], 4).tolist(), "y_test": np.asarray(test[1]).ravel().astype(int).tolist()}
        self.send("ready", {"data": data, "initial": {**before, **{f"val_{k}": v for k, v in val.items()}}})
        self.send_state(pictures=True)
        while not self.running and not self.stopping:
            self.poll(block=True)
        if self.stopping:
            return
        self.status = "training"
        self.stop_cb = C.early_stopping(cfg)
        callbacks = ([self.stop_cb] if self.stop_cb else []) + [Control(self)]
        self.model.fit(*train, validation_data=test, callbacks=callbacks, **C.fit_kwargs(cfg))
        if self.stopping:
            return
        if self.stop_cb is not None and self.stop_cb.stopped_epoch:
            self.stopped_epoch = self.stop_cb.stopped_epoch + 1
        self.status, self.running = "done", False
        self.send_state(pictures=True)
        while not self.stopping:  # finished: still answer "save" until the session ends
            self.poll(block=True)


def main(conn, cfg: dict) -> None:
    """The worker process's entry point: run the session until told to stop or the server goes.

    Example:
        >>> import multiprocessing as mp
        >>> from tapegrad.playground.config import validate
        >>> here, there = mp.Pipe()
        >>> t = __import__("threading").Thread(target=main, args=(there, validate({"epochs": 2, "speed": 0})))
        >>> t.start(); here.recv()[0]
        'ready'
        >>> here.send(("stop",)); t.join()
    """
    try:
        Worker(conn, cfg).run()
    except Exception:  # report it to the server rather than dying silently
        try:
            conn.send(("error", traceback.format_exc(limit=5)))
        except OSError:
            pass
    finally:
        conn.close()
