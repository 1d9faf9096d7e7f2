"""pytest glue: every test ends with all the processes it started stopped."""
import pytest

import mm


@pytest.fixture(autouse=True)
def _stop_processes():
    yield
    mm.stop_all()
