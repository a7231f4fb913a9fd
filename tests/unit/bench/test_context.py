import itertools

import pytest

from bench.context import wait_until
from bench.errors import WaitTimeoutError


def test_wait_until_returns_the_first_truthy_result() -> None:
    answers = iter([None, False, None, {"items": 3}])
    assert wait_until(lambda: next(answers), timeout_s=5, what="x", interval_s=0) == {"items": 3}


def test_wait_until_gives_up_naming_what_it_waited_for() -> None:
    calls = itertools.count()
    with pytest.raises(WaitTimeoutError, match="the items to be destroyed") as caught:
        wait_until(
            lambda: next(calls) and None,
            timeout_s=0.05,
            what="the items to be destroyed",
            interval_s=0.01,
        )
    assert caught.value.timeout_s == 0.05
    assert next(calls) >= 2  # polled more than once before giving up
