"""pytest glue shared by every e2e test file: every test ends with all the
processes it started stopped, and the fixtures most files need (a mock LLM
upstream, a control plane, a redis-server) are defined once here."""
import pytest

import mm


def assert_clean_exit(proc):
    """Stops proc and fails, with the tail of its stderr, unless it exits 0."""
    rc = proc.stop()
    assert rc == 0, "%s exited %s:\n%s" % (proc.name, rc, proc.stderr()[-4000:])


@pytest.fixture(autouse=True)
def _stop_processes():
    yield
    mm.stop_all()


@pytest.fixture
def mock():
    """A mock LLM upstream (tests/mockllm) named m1; it must exit cleanly."""
    m = mm.MockLLM(extra_args=["--name", "m1"])
    yield m
    assert_clean_exit(m)


@pytest.fixture
def cp():
    """A control plane on a fresh database; it must exit cleanly."""
    c = mm.ControlPlane()
    yield c
    assert_clean_exit(c)


@pytest.fixture
def redis():
    """A redis-server without persistence (tests may stop and restart it)."""
    r = mm.Redis()
    yield r
    r.stop(check=False)
