"""The playground's HTTP and WebSocket API, through Starlette's TestClient (worker processes are real)."""

import io
import math
import re
import time
import warnings
import zipfile

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

from playground_helpers import run_program  # noqa: E402
with warnings.catch_warnings():  # Starlette 1.x suggests httpx2; httpx still works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

import tapegrad as tg  # noqa: E402
from tapegrad.playground import config as C  # noqa: E402
from tapegrad.playground.server import Settings, create_app  # noqa: E402

FAST = {"epochs": 12, "speed": 0, "n_samples": 120}


@pytest.fixture
def client():
    with TestClient(create_app(Settings(max_trainings=2, max_sessions=4))) as c:
        yield c


def new(client, **cfg):
    r = client.post("/api/sessions", json={"config": {**FAST, **cfg}})
    assert r.status_code == 201, r.text
    return r.json()["session"]


def wait(client, sid, until=("done",), timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = client.get(f"/api/sessions/{sid}").json()
        if s["status"] in until and (s["status"] != "ready" or s["pictures"]):
            return s
        assert s["status"] != "error", s["error"]
        time.sleep(0.05)
    raise AssertionError(f"session stayed {s['status']}")


def train(client, sid):
    wait(client, sid, ("ready",))
    assert client.post(f"/api/sessions/{sid}/start").status_code == 202
    return wait(client, sid)


def test_options_and_page(client):
    o = client.get("/api/options").json()
    assert set(o["datasets"]) == {"pass_fail", "moons", "circles", "xor", "spiral", "blobs"}
    assert {"sgd", "momentum", "adagrad", "rmsprop", "adam"} <= set(o["optimizers"])
    assert o["max_layers"] == 6 and o["max_units"] == 16 and o["limits"]["max_trainings"] == 2
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    for name in ("app.js", "style.css"):
        r = client.get(f"/static/{name}")
        assert r.status_code == 200 and len(r.text) > 500
    for text in (page.text, client.get("/static/app.js").text, client.get("/static/style.css").text):
        assert not re.search(r"(src|href|url)\s*[=(]\s*[\"']?(https?:)?//", text)  # nothing from elsewhere: works offline


@pytest.mark.parametrize("body, field, status", [
    ({"config": {"hidden": [{"units": 17, "activation": "relu"}]}}, "hidden[0].units", 422),
    ({"config": {"hidden": [{"units": 4, "activation": "softmax"}]}}, "hidden[0].activation", 422),
    ({"config": {"hidden": [{"units": 4, "activation": "relu"}] * 7}}, "hidden", 422),
    ({"config": {"learning_rate": 0}}, "learning_rate", 422),
    ({"config": {"learning_rate": "fast"}}, "learning_rate", 422),
    ({"config": {"dropout": 0.95}}, "dropout", 422),
    ({"config": {"optimizer": "adamm"}}, "optimizer", 422),
    ({"config": {"dataset": "mnist"}}, "dataset", 422),
    ({"config": {"batch_size": 2.5}}, "batch_size", 422),
    ({"config": {"batch_size": 500, "n_samples": 100}}, "batch_size", 422),
    ({"config": {"classes": 3}}, "classes", 422),
    ({"config": {"dataset": "spiral", "classes": 3}}, "loss", 422),
    ({"config": {"early_stopping": "yes"}}, "early_stopping", 422),
    ({"config": {"colour": "red"}}, "colour", 422),
    ({"config": [1, 2]}, "config", 422),
    ({"cfg": {}}, "cfg", 400),
])
def test_bad_configs_get_4xx_naming_the_field(client, body, field, status):
    r = client.post("/api/sessions", json=body)
    assert r.status_code == status
    assert r.json()["field"] == field and field.split("[")[0] in r.json()["error"]
    assert "Traceback" not in r.text
    assert client.get("/api/stats").json()["sessions"] == 0  # nothing was created


def test_bad_requests_on_a_session(client):
    sid = new(client)
    r = client.put(f"/api/sessions/{sid}/config", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["field"] == "body"
    r = client.put(f"/api/sessions/{sid}/config", json={"l2": -1})
    assert r.status_code == 422 and r.json()["field"] == "l2"
    r = client.post(f"/api/sessions/{sid}/jump")
    assert r.status_code == 404 and r.json()["field"] == "action"
    r = client.post("/api/sessions/nope/start")
    assert r.status_code == 404 and r.json()["field"] == "session"
    r = client.get("/api/nothing")
    assert r.status_code == 404 and r.json()["field"] == "path"
    r = client.put(f"/api/sessions/{sid}/config", content=b"x" * 70000)
    assert r.status_code == 413 and r.json()["field"] == "body"
    # the session is unharmed: it still trains
    assert train(client, sid)["epoch"] == FAST["epochs"]


def test_program_reproduces_the_sessions_losses(client, tmp_path):
    cfg = {"dataset": "circles", "noise": 0.1, "dropout": 0.1, "l2": 0.001, "optimizer": "momentum",
           "learning_rate": 0.05, "batch_size": 8, "seed": 3, "epochs": 8,
           "hidden": [{"units": 6, "activation": "tanh"}, {"units": 5, "activation": "relu"}]}
    sid = new(client, **cfg)
    s = train(client, sid)
    got = list(zip(s["history"]["loss"], s["history"]["val_loss"]))
    want = run_program(s["code"], tmp_path)  # the code panel's program, in a fresh Python
    assert len(want) == len(got) == 8
    np.testing.assert_allclose(got, want, atol=2e-6)  # printed with 6 decimals
    assert got[-1][0] < got[0][0]


def test_program_reproduces_early_stopping(client, tmp_path):
    sid = new(client, dataset="xor", noise=0.3, early_stopping=True, patience=2, epochs=60, learning_rate=0.5,
              optimizer="adam", hidden=[{"units": 16, "activation": "relu"}] * 2)
    s = train(client, sid)
    want = run_program(s["code"], tmp_path)
    assert s["stopped_epoch"] == len(s["history"]["loss"]) < 60  # it did stop early
    np.testing.assert_allclose(list(zip(s["history"]["loss"], s["history"]["val_loss"])), want, atol=2e-6)
    val = s["history"]["val_loss"]
    assert s["best_epoch"] == int(np.argmin(val)) + 1


def test_step_pause_and_reset(client):
    sid = new(client, epochs=500, speed=20)
    wait(client, sid, ("ready",))
    for n in (1, 2):
        assert client.post(f"/api/sessions/{sid}/step").status_code == 202
        s = wait(client, sid, ("paused",))
        assert s["epoch"] == n and len(s["history"]["loss"]) == n
    client.post(f"/api/sessions/{sid}/start")
    deadline = time.monotonic() + 30  # training runs in its own process: wait until it has moved on
    while client.get(f"/api/sessions/{sid}").json()["epoch"] <= 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    client.post(f"/api/sessions/{sid}/pause")
    wait(client, sid, ("paused",))
    time.sleep(0.3)
    held = client.get(f"/api/sessions/{sid}").json()["epoch"]
    assert 2 < held < 500
    time.sleep(0.3)
    assert client.get(f"/api/sessions/{sid}").json()["epoch"] == held  # paused means paused
    r = client.post(f"/api/sessions/{sid}/reset")
    assert r.status_code == 200
    s = wait(client, sid, ("ready",))
    assert s["epoch"] == 0 and s["history"] == {}


def test_every_tab_is_its_own_session_and_the_training_limit(client):
    a, b, c = (new(client, epochs=400, speed=10) for _ in range(3))
    for sid in (a, b, c):
        wait(client, sid, ("ready",))
    assert client.post(f"/api/sessions/{a}/start").status_code == 202
    assert client.post(f"/api/sessions/{b}/start").status_code == 202
    r = client.post(f"/api/sessions/{c}/start")  # max_trainings=2
    assert r.status_code == 429 and r.json()["field"] == "action"
    assert client.get("/api/stats").json()["training"] == 2
    client.post(f"/api/sessions/{a}/pause")
    wait(client, a, ("paused",))
    assert client.post(f"/api/sessions/{c}/start").status_code == 202  # a paused one frees its place
    new(client)
    r = client.post("/api/sessions", json={})  # max_sessions=4
    assert r.status_code == 429 and r.json()["field"] == "session"
    client.delete(f"/api/sessions/{b}")
    assert client.get(f"/api/sessions/{b}").status_code == 404
    assert client.get("/api/stats").json()["sessions"] == 3


def test_finished_training_is_a_conflict_until_reset(client):
    sid = new(client, epochs=3)
    train(client, sid)
    r = client.post(f"/api/sessions/{sid}/start")
    assert r.status_code == 409 and r.json()["field"] == "action"


def test_model_download_is_the_trained_model(client, tmp_path):
    sid = new(client, dataset="moons", epochs=5)
    s = train(client, sid)
    r = client.get(f"/api/sessions/{sid}/model")
    assert r.status_code == 200 and zipfile.is_zipfile(io.BytesIO(r.content))
    path = tmp_path / "m.tapegrad"
    path.write_bytes(r.content)
    model = tg.models.load_model(str(path))
    x, y = np.array(s["data"]["x_test"], np.float32), np.array(s["data"]["y_test"], np.float32).reshape(-1, 1)
    loss = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    assert math.isclose(loss, s["history"]["val_loss"][-1], rel_tol=1e-3, abs_tol=1e-4)  # x rounded to 4 places


def test_a_too_large_learning_rate_makes_the_loss_rise(client):
    sid = new(client, dataset="moons", optimizer="sgd", learning_rate=60.0, epochs=10,
              hidden=[{"units": 8, "activation": "tanh"}])
    s = train(client, sid)
    assert s["history"]["loss"][-1] > s["initial"]["loss"]
    sid = new(client, dataset="moons", optimizer="sgd", learning_rate=0.1, epochs=10,
              hidden=[{"units": 8, "activation": "tanh"}])
    s = train(client, sid)
    assert s["history"]["loss"][-1] < s["initial"]["loss"]


def test_perceptron_landscape_and_hidden_units(client):
    sid = new(client, dataset="pass_fail", hidden=[], epochs=6, loss="binary_crossentropy")
    s = train(client, sid)
    land = s["pictures"]["landscape"]
    assert land is not None and len(land["path"]) == 1 + 6 * math.ceil(84 / 10)  # start, then one point a step
    assert s["pictures"]["units"] == []
    sid = new(client, hidden=[{"units": 3, "activation": "relu"}, {"units": 2, "activation": "tanh"}], epochs=2)
    s = train(client, sid)
    assert s["pictures"]["landscape"] is None
    assert [(u["layer"], u["unit"]) for u in s["pictures"]["units"]] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]


def test_websocket_pushes_several_updates_a_second(client):
    sid = new(client, epochs=1000, speed=100)
    with client.websocket_connect(f"/api/sessions/{sid}/ws") as ws:
        assert ws.receive_json()["type"] == "setup"
        wait(client, sid, ("ready",))
        client.post(f"/api/sessions/{sid}/start")
        t0, pictures, epochs = time.monotonic(), 0, []
        while time.monotonic() - t0 < 2.0:
            m = ws.receive_json()
            if m["type"] == "state" and m["status"] == "running" and m["pictures"]:
                pictures += 1
                epochs.append(m["epoch"])
        client.post(f"/api/sessions/{sid}/pause")
    assert pictures >= 6  # several pictures a second (the worker sends one every 0.15 s while training)
    assert epochs == sorted(epochs) and epochs[-1] > epochs[0]


def test_idle_sessions_are_freed():
    with TestClient(create_app(Settings(idle_timeout=0.5, reap_every=0.2))) as client:
        sid = new(client)
        wait(client, sid, ("ready",))
        time.sleep(1.5)
        assert client.get(f"/api/sessions/{sid}").status_code == 404
        assert client.get("/api/stats").json() == {**client.get("/api/stats").json(), "sessions": 0}


def test_config_errors_are_caught_before_anything_is_built():
    with pytest.raises(C.ConfigError) as e:
        C.validate({"hidden": [{"units": 4}]})
    assert e.value.field == "hidden[0]"
    assert C.validate({})["hidden"] == C.DEFAULTS["hidden"]
