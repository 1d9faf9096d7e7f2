"""`make demo` end to end: scripts/demo.sh on free ports, non-interactive.

Runs the real demo (two mocks, the control plane, a data plane, the SPEC
section 7 apk-conf import, a dozen requests) and checks the table it prints
shows the requests spread over the three models and both mock endpoints;
that a port in use fails loudly before anything starts; and that SIGINT or
SIGTERM to the waiting demo stops every process it started.
"""
import os
import re
import signal
import socket
import subprocess
import tempfile
import time

import mm

DEMO = os.path.join(mm.SOURCE_DIR, "scripts", "demo.sh")
ROW = re.compile(r"^\s*(\d+)\s+(production|sandbox)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\d{3})\s*$")
MODELS = {"gpt-4o", "o1-mini", "gpt-4o-mini"}
PORT_VARS = ("DEMO_CP_PORT", "DEMO_DP_PORT", "DEMO_DP_ADMIN_PORT", "DEMO_MOCK_A_PORT",
             "DEMO_MOCK_B_PORT")


def demo_env(data_dir):
    ports = {}
    while len(set(ports.values())) < len(PORT_VARS):
        ports = {v: mm.free_port() for v in PORT_VARS}
    env = dict(os.environ)
    env.update({k: str(p) for k, p in ports.items()})
    env.update({"MM_BIN_DIR": mm.BIN_DIR, "DEMO_DATA_DIR": data_dir,
                "MODELMUX_ADMIN_TOKEN": "demo-test-admin-token"})
    env.pop("MODELMUX_DEMO_EXIT", None)
    return env, ports


def listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def processes_on(ports):
    """pids whose command line names one of our 127.0.0.1:PORT addresses."""
    marks = [("127.0.0.1:%d" % p).encode() for p in ports]
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read()
            with open("/proc/%s/stat" % pid, "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if state != b"Z" and any(m in cmd for m in marks):
            found.append((int(pid), cmd.replace(b"\0", b" ").decode("utf-8", "replace")))
    return found


def assert_all_stopped(ports, out, data):
    """Nothing of the demo left running, every process exited 0 on SIGTERM,
    and no sanitizer report in their logs."""
    mm.wait_until(lambda: not processes_on(ports.values()), timeout=15,
                  what="the demo's processes to exit")
    for var, p in ports.items():
        assert not listening(p), "%s=%d still listening after the demo ended\n%s" % (var, p, out)
    assert "exited with status" not in out, out + logs(data)
    text = logs(data)
    for marker in mm.SANITIZER_MARKERS:
        assert marker not in text, text


def logs(data_dir):
    text = []
    for name in sorted(os.listdir(data_dir)) if os.path.isdir(data_dir) else []:
        if name.endswith(".log"):
            with open(os.path.join(data_dir, name), errors="replace") as f:
                text.append("---- %s ----\n%s" % (name, f.read()[-8000:]))
    return "\n".join(text)


def test_demo_spreads_requests_over_models_and_endpoints():
    data = tempfile.mkdtemp(prefix="mm-demo-test-")
    env, ports = demo_env(data)
    p = subprocess.run(["bash", DEMO, "--no-wait"], env=env, capture_output=True, text=True,
                       timeout=180 * mm.SLOW, stdin=subprocess.DEVNULL)
    out = p.stdout + "\n" + p.stderr
    assert p.returncode == 0, "demo failed (%d)\n%s\n%s" % (p.returncode, out, logs(data))

    rows = [ROW.match(line).groups() for line in p.stdout.splitlines() if ROW.match(line)]
    assert [int(r[0]) for r in rows] == list(range(1, 13)), out
    assert all(r[6] == "200" for r in rows), out
    mock_a = "127.0.0.1:%s" % ports["DEMO_MOCK_A_PORT"]
    mock_b = "127.0.0.1:%s" % ports["DEMO_MOCK_B_PORT"]
    # Every model, both mock endpoints; the upstream column and the mock's
    # own reply ("answered by") agree.
    assert {r[2] for r in rows} == MODELS, out
    assert {r[4] for r in rows} == {mock_a, mock_b}, out
    assert {r[5] for r in rows} == {"mock-a", "mock-b"}, out
    for r in rows:
        assert (r[4], r[5]) in ((mock_a, "mock-a"), (mock_b, "mock-b")), r
    prod = [r for r in rows if r[1] == "production"]
    sand = [r for r in rows if r[1] == "sandbox"]
    assert len(prod) == 9 and len(sand) == 3, out
    # Production spans models AND endpoints (every model on both mocks over
    # the first full rotation); sandbox stays on mock B and rotates models.
    assert {(r[2], r[5]) for r in prod[:6]} == {(m, e) for m in MODELS for e in ("mock-a", "mock-b")}, out
    assert {r[2] for r in sand} == MODELS and {r[5] for r in sand} == {"mock-b"}, out

    # What the user needs to go on: URLs, the admin token, a curl command.
    assert "http://127.0.0.1:%s" % ports["DEMO_CP_PORT"] in p.stdout
    assert "http://127.0.0.1:%s" % ports["DEMO_DP_PORT"] in p.stdout
    assert "demo-test-admin-token" in p.stdout
    assert re.search(r"curl -si http://127\.0\.0\.1:%s/chat-service-prod-sand/1\.0/chat/completions"
                     % ports["DEMO_DP_PORT"], p.stdout), out
    assert_all_stopped(ports, out, data)


def test_demo_port_in_use_fails_loudly_and_starts_nothing():
    data = tempfile.mkdtemp(prefix="mm-demo-test-")
    env, ports = demo_env(data)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        env["DEMO_DP_PORT"] = str(s.getsockname()[1])
        ports["DEMO_DP_PORT"] = s.getsockname()[1]
        p = subprocess.run(["bash", DEMO, "--no-wait"], env=env, capture_output=True, text=True,
                           timeout=60 * mm.SLOW, stdin=subprocess.DEVNULL)
    assert p.returncode != 0
    assert "port %d" % ports["DEMO_DP_PORT"] in p.stderr and "in use" in p.stderr, p.stderr
    assert "DEMO_DP_PORT" in p.stderr, p.stderr
    others = {k: v for k, v in ports.items() if k != "DEMO_DP_PORT"}
    assert not processes_on(others.values())
    for var, port in others.items():
        assert not listening(port), var


def test_demo_bad_arguments():
    data = tempfile.mkdtemp(prefix="mm-demo-test-")
    env, _ = demo_env(data)
    p = subprocess.run(["bash", DEMO, "--bogus"], env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "unknown argument" in p.stderr
    env["DEMO_CP_PORT"] = "99999"
    p = subprocess.run(["bash", DEMO, "--no-wait"], env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "DEMO_CP_PORT=99999 is not a port number" in p.stderr
    env["DEMO_CP_PORT"] = env["DEMO_DP_PORT"]
    p = subprocess.run(["bash", DEMO, "--no-wait"], env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "are both" in p.stderr
    env, _ = demo_env(data)
    env["MM_BIN_DIR"] = tempfile.mkdtemp(prefix="mm-empty-bin-")
    p = subprocess.run(["bash", DEMO, "--no-wait"], env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "is missing" in p.stderr


def run_until_waiting(env, data):
    """Starts the interactive demo; returns the Popen once it waits for Ctrl-C."""
    out_path = os.path.join(data, "demo.stdout")
    out = open(out_path, "w")
    p = subprocess.Popen(["bash", DEMO], env=env, stdout=out, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    out.close()

    def waiting():
        if p.poll() is not None:
            raise AssertionError("demo exited (%d) before waiting:\n%s\n%s"
                                 % (p.returncode, open(out_path).read(), logs(data)))
        return "Press Ctrl-C" in open(out_path).read()
    try:
        mm.wait_until(waiting, timeout=120, interval=0.1, what="the demo to wait for Ctrl-C")
    except BaseException:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        raise
    return p, out_path


def stop_and_check(sig, group=False):
    data = tempfile.mkdtemp(prefix="mm-demo-test-")
    env, ports = demo_env(data)
    p, out_path = run_until_waiting(env, data)
    for var, port in ports.items():
        assert listening(port), var
    started = processes_on(ports.values())
    assert len(started) == 4, started  # two mocks, cp, dp
    if group:
        # What Ctrl-C in a terminal does: the whole foreground process group.
        os.killpg(p.pid, sig)
    else:
        # Only the script: its trap must stop every child.
        os.kill(p.pid, sig)
    try:
        rc = p.wait(timeout=60 * mm.SLOW)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        raise AssertionError("demo did not exit on signal %d" % sig)
    text = open(out_path).read()
    assert_all_stopped(ports, text, data)
    assert "stopped 4 processes" in text, text
    return rc


def test_demo_ctrl_c_stops_everything():
    assert stop_and_check(signal.SIGINT) == 0


def test_demo_sigterm_stops_everything():
    assert stop_and_check(signal.SIGTERM) == 143


def test_demo_ctrl_c_to_the_process_group_stops_everything():
    assert stop_and_check(signal.SIGINT, group=True) == 0


def test_demo_ctrl_c_in_a_terminal_ends_cleanly_and_removes_its_temp_dir():
    """Ctrl-C typed in a terminal: the tty sends SIGINT to the whole
    foreground process group. No false error, exit 0, every process
    stopped, and the demo's own temp folder removed (DEMO_DATA_DIR unset)."""
    import pty
    for attempt in range(3):  # the failure was a race: try it more than once
        tmp = tempfile.mkdtemp(prefix="mm-demo-tmp-")
        env, ports = demo_env(tmp)
        del env["DEMO_DATA_DIR"]
        env["TMPDIR"] = tmp
        pid, fd = pty.fork()
        if pid == 0:  # the child: a session leader whose terminal is the pty
            os.execvpe("bash", ["bash", DEMO], env)
        out = b""

        def read_some():
            """Reads what the pty has; returns the byte count (0 at its end)."""
            nonlocal out
            try:
                got = os.read(fd, 65536)
            except OSError:  # EIO: every process on the pty has exited
                got = b""
            out += got
            return len(got)
        import select
        deadline = time.time() + 120 * mm.SLOW
        while b"Press Ctrl-C" not in out:
            assert time.time() < deadline, out.decode(errors="replace")
            if select.select([fd], [], [], 0.2)[0]:
                read_some()
        started = processes_on(ports.values())
        assert len(started) == 4
        # Ctrl-C must reach only the script, which stops the others in
        # order: they run in sessions of their own, away from the terminal.
        for child, cmd in started:
            with open("/proc/%d/stat" % child, "rb") as f:
                session = int(f.read().rsplit(b")", 1)[1].split()[3])
            assert session == child != pid, cmd
        os.write(fd, b"\x03")  # Ctrl-C, as a user types it
        deadline = time.time() + 60 * mm.SLOW
        status = None
        while status is None:
            if select.select([fd], [], [], 0.2)[0]:
                read_some()
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status = st
            assert time.time() < deadline, "demo did not exit on Ctrl-C:\n" + out.decode(errors="replace")
        while select.select([fd], [], [], 0.2)[0] and read_some():
            pass
        os.close(fd)
        text = out.decode(errors="replace")
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, (status, text)
        assert "unexpectedly" not in text and "exited with status" not in text, text
        assert "stopped 4 processes" in text, text
        mm.wait_until(lambda: not processes_on(ports.values()), timeout=15,
                      what="the demo's processes to exit")
        assert os.listdir(tmp) == [], "the demo left %s behind:\n%s" % (os.listdir(tmp), text)
        os.rmdir(tmp)
