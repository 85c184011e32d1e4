from __future__ import annotations

import socket

from understudy_trainer.modeling import network_failure


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
