"""``tapegrad playground``: its options, checked before anything starts, and a real start on a free port."""

import pytest

from tapegrad.cli.main import main, parser

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from playground_helpers import Server  # noqa: E402


def test_options_and_defaults():
    a = parser().parse_args(["playground"])
    assert (a.host, a.port, a.open, a.max_trainings) == ("127.0.0.1", 8000, False, 4)
    a = parser().parse_args(["playground", "--host", "0.0.0.0", "--port", "9001", "--open", "--max-trainings", "2"])
    assert (a.host, a.port, a.open, a.max_trainings) == ("0.0.0.0", 9001, True, 2)


@pytest.mark.parametrize("argv, message", [(["--port", "70000"], "--port"), (["--max-trainings", "0"], "--max-trainings")])
def test_bad_options_are_errors_naming_them(argv, message, capsys):
    assert main(["playground", *argv]) == 2
    assert message in capsys.readouterr().err


def test_serves_the_page_on_loopback():
    with Server("--max-trainings", "3") as server:
        code, page = server.get("/")
        assert code == 200 and b"tapegrad playground" in page
        assert server.get("/api/options")[1]["limits"]["max_trainings"] == 3
