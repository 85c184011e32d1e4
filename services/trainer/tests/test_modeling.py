from __future__ import annotations

import socket
from pathlib import Path

from understudy_trainer.modeling import base_model_license, network_failure


def chained(outer: Exception, inner: BaseException) -> Exception:
    try:
        try:
            raise inner
        except BaseException as cause:
            raise outer from cause
    except Exception as error:
        return error


def test_network_failures_are_found_down_the_cause_chain() -> None:
    assert network_failure(chained(OSError("cannot load"), socket.gaierror(-2, "unknown host")))
    assert network_failure(chained(OSError("cannot load"), ConnectionRefusedError()))
    assert not network_failure(chained(OSError("cannot load"), FileNotFoundError("config.json")))
    assert not network_failure(OSError("not a model"))


def test_the_licence_comes_from_the_model_card(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text(
        "---\nlicense: apache-2.0\nlanguage: [en]\n---\n# A model\n"
    )
    assert base_model_license(str(tmp_path)) == "apache-2.0"


def test_the_licence_is_unknown_without_a_card_that_names_one(tmp_path: Path) -> None:
    assert base_model_license("tiny-random:llama") is None
    assert base_model_license(str(tmp_path)) is None
    (tmp_path / "README.md").write_text("# A model without metadata\n")
    assert base_model_license(str(tmp_path)) is None
