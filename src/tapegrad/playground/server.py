"""The playground's web application: a Starlette app, one training process per session.

Each browser tab creates its own session (``POST /api/sessions``); the session's
model lives in a worker process (``worker.py``), so trainings run off the event
loop and in parallel, each with its own ``tg.random`` seed, and all their memory
goes back to the system when the session ends. Updates reach the page over a
WebSocket several times a second. Every request is checked: a bad one gets a 4xx
JSON answer ``{"error": ..., "field": ...}``.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import itertools
import json
import multiprocessing as mp
import secrets
import threading
import time
from dataclasses import dataclass
from importlib import resources

from starlette.applications import Starlette
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from . import config as C
from . import worker as W

__all__ = ["create_app", "serve", "Settings"]

ACTIONS = ("start", "pause", "step", "reset")
MAX_BODY = 64 * 1024


@dataclass
class Settings:
    """Limits of one playground server.

    ``max_trainings``: sessions training at the same time (a paused one does not count);
    ``max_sessions``: sessions open at once (each holds a worker process);
    ``idle_timeout``: seconds without a request from its page after which a session that is
    not training is freed; ``reap_every``: seconds between checks for idle sessions.

    Example:
        >>> Settings(max_trainings=8).max_trainings
        8
    """

    max_trainings: int = 4
    max_sessions: int = 32
    idle_timeout: float = 600.0
    reap_every: float = 15.0


class ApiError(Exception):
    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status, self.field, self.message = status, field, message


def _context():
    """Worker processes forked from a server process that already imported tapegrad (fast to
    start); where fork is not available (Windows), freshly spawned ones."""
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["tapegrad.playground.worker"])
        return ctx
    return mp.get_context("spawn")


class Session:
    """One tab's session: its configuration, its worker process and the latest state it sent."""

    def __init__(self, manager: "Manager", sid: str, cfg: dict) -> None:
        self.manager, self.id = manager, sid
        self.lock = threading.Lock()
        self.last_seen = time.monotonic()
        self.closed = False
        self.generation = 0
        self._event = asyncio.Event()
        self.proc = None
        self.conn = None
        self.saves: dict[int, concurrent.futures.Future] = {}
        self._ids = itertools.count()
        self.start_worker(cfg)

    # -- the worker -----------------------------------------------------------------------------
    def start_worker(self, cfg: dict) -> None:
        old = (self.proc, self.conn)
        with self.lock:
            self.cfg, self.code = cfg, C.program(cfg)
            self.generation += 1
            self.status, self.epoch, self.history = "starting", 0, {}
            self.best_epoch = self.stopped_epoch = None
            self.pictures = self.data = self.initial = self.error = None
            self.running = False
            self.seq = 0
            parent, child = self.manager.ctx.Pipe()
            self.proc = self.manager.ctx.Process(target=W.main, args=(child, cfg), daemon=True,
                                                 name=f"tapegrad-playground-{self.id[:8]}")
            self.proc.start()
            child.close()
            self.conn = parent
        threading.Thread(target=self._read, args=(parent, self.generation), daemon=True).start()
        self._end(*old)
        self.bump()

    def _end(self, proc, conn) -> None:
        """Ask a worker to stop, then make sure it has (off the event loop)."""
        if proc is None:
            return

        def finish():
            try:
                conn.send(("stop",))
            except (OSError, ValueError):
                pass
            proc.join(3)
            if proc.is_alive():
                proc.terminate()
                proc.join(2)
            if proc.is_alive():
                proc.kill()
                proc.join()
            conn.close()
            proc.close()

        threading.Thread(target=finish, daemon=True).start()

    def _read(self, conn, generation: int) -> None:
        """The reader thread of one worker: store what it sends, wake the WebSockets."""
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                with self.lock:
                    if generation == self.generation and not self.closed and self.status != "done":
                        self.error = self.error or "the training process ended unexpectedly"
                        self.status, self.running = "error", False
                break
            with self.lock:
                if generation != self.generation:
                    break
                kind = msg[0]
                if kind == "ready":
                    self.data, self.initial = msg[1]["data"], msg[1]["initial"]
                elif kind == "state":
                    self._merge(msg[1])
                elif kind == "model":
                    fut = self.saves.pop(msg[1], None)
                    if fut is not None:
                        fut.set_result(msg[2])
                elif kind == "error":
                    self.error, self.status, self.running = msg[1].strip().splitlines()[-1], "error", False
            self.bump()

    def _merge(self, st: dict) -> None:
        for k, v in st["history"].items():
            self.history.setdefault(k, [])[st["history_from"]:] = v
        self.epoch, self.best_epoch, self.stopped_epoch = st["epoch"], st["best_epoch"], st["stopped_epoch"]
        if st["seq"] == self.seq:  # not a state sent before the worker saw the latest command
            self.status = st["status"]
            self.running = st["status"] == "running"
        if "pictures" in st:
            p = st["pictures"]
            b64 = lambda d: base64.b64encode(d).decode("ascii")  # noqa: E731
            pics = {"boundary": {**p["boundary"], "data": b64(p["boundary"]["data"])},
                    "units": [{**u, "data": b64(u["data"])} for u in p["units"]], "landscape": None}
            if p["landscape"] is not None:
                pics["landscape"] = {**p["landscape"], "data": b64(p["landscape"]["data"])}
            self.pictures = pics

    def send(self, *msg) -> None:
        try:
            self.conn.send(msg)
        except (OSError, ValueError):
            raise ApiError(409, "session", "the session's training process has ended; reset it") from None

    def bump(self) -> None:
        """Wake whoever waits for news of this session (thread-safe)."""
        loop = self.manager.loop

        def wake():
            ev, self._event = self._event, asyncio.Event()
            ev.set()

        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(wake)
        except RuntimeError:  # the loop is shutting down
            pass

    async def changed(self) -> None:
        await self._event.wait()

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self.generation += 1
            old = (self.proc, self.conn)
            self.proc = self.conn = None
            self.running = False
            for fut in self.saves.values():
                fut.cancel()
        self._end(*old)
        self.bump()

    # -- what the page sees ---------------------------------------------------------------------
    def view(self, since: int = 0, pictures: bool = True) -> dict:
        with self.lock:
            out = {"session": self.id, "generation": self.generation, "status": self.status, "epoch": self.epoch,
                   "history_from": since, "history": {k: v[since:] for k, v in self.history.items()},
                   "best_epoch": self.best_epoch, "stopped_epoch": self.stopped_epoch, "error": self.error,
                   "initial": self.initial}
            if pictures:
                out["pictures"] = self.pictures
            return out

    def setup(self) -> dict:
        with self.lock:
            return {"session": self.id, "generation": self.generation, "config": self.cfg, "code": self.code,
                    "data": self.data, "initial": self.initial}


class Manager:
    """All sessions of a server, the limits, and the idle reaper."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sessions: dict[str, Session] = {}
        self.lock = threading.Lock()
        self.loop = None
        self.ctx = _context()

    def create(self, cfg: dict) -> Session:
        with self.lock:
            if len(self.sessions) >= self.settings.max_sessions:
                raise ApiError(429, "session", f"the server already holds its limit of {self.settings.max_sessions} "
                               "sessions; close a tab or try again later")
            sid = secrets.token_urlsafe(12)
            session = Session(self, sid, cfg)
            self.sessions[sid] = session
            return session

    def get(self, sid: str) -> Session:
        session = self.sessions.get(sid)
        if session is None:
            raise ApiError(404, "session", f"no session {sid!r} (it may have been freed after "
                           f"{self.settings.idle_timeout:g} idle seconds); reload the page")
        session.last_seen = time.monotonic()
        return session

    def close(self, sid: str) -> None:
        with self.lock:
            session = self.sessions.pop(sid, None)
        if session is not None:
            session.close()

    def training(self) -> int:
        return sum(1 for s in list(self.sessions.values()) if s.running)

    def claim_training(self, session: Session) -> None:
        """Mark a session as training, unless ``max_trainings`` others already are."""
        with self.lock:
            if not session.running and self.training() >= self.settings.max_trainings:
                raise ApiError(429, "action", f"{self.settings.max_trainings} sessions are training already (the "
                               "server's limit); pause one or try again shortly")
            session.running = True

    def reap(self) -> None:
        now = time.monotonic()
        for sid, s in list(self.sessions.items()):
            if not s.running and now - s.last_seen > self.settings.idle_timeout:
                self.close(sid)

    def close_all(self) -> None:
        for sid in list(self.sessions):
            self.close(sid)


# -- HTTP ---------------------------------------------------------------------------------------
def _error(status: int, field: str, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "field": field}, status_code=status)


async def _body(request) -> dict:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ApiError(413, "body", f"expected at most {MAX_BODY} bytes, received {len(raw)}")
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "body", f"expected a JSON object, received text that is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ApiError(400, "body", f"expected a JSON object, received {type(data).__name__}")
    return data


def _checked(raw) -> dict:
    try:
        return C.validate(raw)
    except C.ConfigError as exc:
        raise ApiError(422, exc.field, str(exc)) from None


def create_app(settings: Settings | None = None) -> Starlette:
    """The playground as an ASGI application (serve it with uvicorn, or test it with TestClient).

    Example:
        >>> app = create_app(Settings(max_trainings=2))
        >>> app.state.manager.settings.max_trainings
        2
    """
    settings = settings or Settings()
    manager = Manager(settings)
    static = resources.files("tapegrad.playground") / "static"

    async def index(request):
        return HTMLResponse((static / "index.html").read_text(encoding="utf-8"))

    async def get_options(request):
        return JSONResponse({**C.options(), "limits": {"max_trainings": settings.max_trainings,
                                                       "max_sessions": settings.max_sessions,
                                                       "idle_timeout": settings.idle_timeout}})

    async def new_session(request):
        body = await _body(request)
        extra = sorted(set(body) - {"config"})
        if extra:
            raise ApiError(400, extra[0], f"unknown field {extra[0]!r}; the body may hold only \"config\"")
        cfg = _checked(body.get("config", {}))
        session = await asyncio.to_thread(manager.create, cfg)
        return JSONResponse(session.setup(), status_code=201)

    async def show_session(request):
        s = manager.get(request.path_params["sid"])
        return JSONResponse({**s.setup(), **s.view()})

    async def delete_session(request):
        manager.get(request.path_params["sid"])
        await asyncio.to_thread(manager.close, request.path_params["sid"])
        return Response(status_code=204)

    async def put_config(request):
        s = manager.get(request.path_params["sid"])
        cfg = _checked(await _body(request))
        await asyncio.to_thread(s.start_worker, cfg)
        return JSONResponse(s.setup())

    async def action(request):
        s = manager.get(request.path_params["sid"])
        name = request.path_params["action"]
        if name not in ACTIONS:
            raise ApiError(404, "action", f"expected one of {', '.join(ACTIONS)}, received {name!r}")
        await _body(request)
        if name == "reset":
            await asyncio.to_thread(s.start_worker, s.cfg)
            return JSONResponse(s.setup())
        if name in ("start", "step"):
            if s.status in ("done", "error"):
                raise ApiError(409, "action", f"the training has {'finished' if s.status == 'done' else 'failed'}; "
                               "reset to train again")
            manager.claim_training(s)
        with s.lock:
            s.seq += 1
            s.send(name, s.seq)
            s.running = name != "pause"
            if s.status in ("ready", "running", "paused"):
                s.status = "running" if s.running else "paused"
        s.bump()
        return JSONResponse({"status": "running" if s.running else "paused", "action": name}, status_code=202)

    async def download_model(request):
        s = manager.get(request.path_params["sid"])
        fut: concurrent.futures.Future = concurrent.futures.Future()
        with s.lock:
            if s.status in ("starting", "error") or s.conn is None:
                raise ApiError(409, "session", f"the model is not ready (status {s.status})")
            rid = next(s._ids)
            s.saves[rid] = fut
        s.send("save", rid)
        try:
            data = await asyncio.wait_for(asyncio.wrap_future(fut), 30)
        except (asyncio.TimeoutError, concurrent.futures.CancelledError, asyncio.CancelledError):
            raise ApiError(503, "session", "the training process did not deliver the model in time") from None
        return Response(data, media_type="application/octet-stream",
                        headers={"Content-Disposition": 'attachment; filename="playground.tapegrad"'})

    async def code(request):
        s = manager.get(request.path_params["sid"])
        return PlainTextResponse(s.code, headers={"Content-Disposition": 'inline; filename="playground.py"'})

    async def stats(request):
        alive = sum(1 for s in list(manager.sessions.values()) if s.proc is not None and s.proc.is_alive())
        return JSONResponse({"sessions": len(manager.sessions), "training": manager.training(), "workers": alive,
                             "max_trainings": settings.max_trainings, "max_sessions": settings.max_sessions})

    async def ws(websocket: WebSocket):
        sid = websocket.path_params["sid"]
        session = manager.sessions.get(sid)
        await websocket.accept()
        if session is None:
            await websocket.close(code=4404, reason="no such session")
            return
        session.last_seen = time.monotonic()
        receiver = asyncio.ensure_future(websocket.receive_text())
        generation, cursor, sent_setup = -1, 0, None
        try:
            while not session.closed:
                waiter = asyncio.ensure_future(session.changed())
                setup = session.setup()
                if (setup["generation"], setup["data"] is not None) != sent_setup:  # new model, or its data came
                    if setup["generation"] != generation:
                        generation, cursor = setup["generation"], 0
                    sent_setup = (setup["generation"], setup["data"] is not None)
                    await websocket.send_json({"type": "setup", **setup})
                view = session.view(cursor)
                if view["generation"] != generation:
                    waiter.cancel()
                    continue  # replaced meanwhile: start over with the new setup
                cursor += max((len(v) for v in view["history"].values()), default=0)
                await websocket.send_json({"type": "state", **view})
                done, _ = await asyncio.wait({waiter, receiver}, return_when=asyncio.FIRST_COMPLETED)
                if receiver in done:
                    receiver.result()  # raises WebSocketDisconnect when the page is gone
                    session.last_seen = time.monotonic()
                    receiver = asyncio.ensure_future(websocket.receive_text())
                await asyncio.sleep(0.05)  # at most ~20 messages a second, however fast the worker
                waiter.cancel()
            await websocket.close(code=4000, reason="session freed")
        except (WebSocketDisconnect, RuntimeError, KeyError):  # gone, or sent bytes where text was expected
            pass
        finally:
            receiver.cancel()

    async def reaper():
        while True:
            await asyncio.sleep(settings.reap_every)
            await asyncio.to_thread(manager.reap)

    async def api_error(request, exc: ApiError):
        return _error(exc.status, exc.field, exc.message)

    async def not_found(request, exc):
        return _error(exc.status_code, "path", f"{exc.detail}: {request.method} {request.url.path}")

    async def server_error(request, exc):
        return _error(500, "server", f"internal error: {type(exc).__name__}")

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app):
        manager.loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(reaper())
        try:
            yield
        finally:
            task.cancel()
            manager.close_all()

    from starlette.exceptions import HTTPException

    sid = "/api/sessions/{sid}"
    app = Starlette(routes=[
        Route("/", index), Route("/api/options", get_options), Route("/api/stats", stats),
        Route("/api/sessions", new_session, methods=["POST"]),
        Route(sid, show_session, methods=["GET"]), Route(sid, delete_session, methods=["DELETE"]),
        Route(sid + "/config", put_config, methods=["PUT"]), Route(sid + "/model", download_model),
        Route(sid + "/code", code), Route(sid + "/{action}", action, methods=["POST"]),
        WebSocketRoute(sid + "/ws", ws),
        Mount("/static", app=StaticFiles(directory=str(static)), name="static"),
    ], exception_handlers={ApiError: api_error, HTTPException: not_found, Exception: server_error},
        lifespan=lifespan)
    app.state.manager = manager
    return app


def serve(host: str = "127.0.0.1", port: int = 8000, open_browser: bool = False,
          settings: Settings | None = None) -> None:
    """Run the playground with uvicorn until interrupted; with ``open_browser`` open the page.

    Call it from a script's ``if __name__ == "__main__":`` block: the session processes start
    from a fork server that imports the script's main module again.

    Example:
        >>> serve("127.0.0.1", 8000, open_browser=True)  # doctest: +SKIP
        tapegrad playground on http://127.0.0.1:8000/ (Ctrl+C to stop)
    """
    import uvicorn

    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    if open_browser:
        import webbrowser

        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    print(f"tapegrad playground on {url} (Ctrl+C to stop)")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning", ws="auto")
