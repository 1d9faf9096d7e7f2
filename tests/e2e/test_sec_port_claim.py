"""Issue 11 item 3: another local user cannot keep the data plane from
starting. The old lock was an abstract unix socket named after --listen,
which any user could bind first; now the claim is the port itself (a plain
bind + listen, SO_REUSEPORT only after it, see dataplane/portclaim.h).
Runs the attacker as a separate user, created here when running as root
(CI runs as root); skipped otherwise. Also: two data planes started at the
same moment on one port never both run."""
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest

import dp_util as du
import mm

OTHER_USER = "mm-e2e-attacker"
KEY = "sk-app-key-port"

# Run as the other user: takes the old lock names of both ports and binds
# the port ahead (SO_REUSEPORT, not listening yet), then, once the data
# plane runs, tries to join the port's SO_REUSEPORT group both ways.
ATTACKER = r"""
import socket, sys
port, admin_port = int(sys.argv[1]), int(sys.argv[2])
held = []
for p in (port, admin_port):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind("\0modelmux-dp/127.0.0.1/%d" % p)
    held.append(s)
def reuseport():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return s
early = reuseport()
early.bind(("127.0.0.1", port))
print("locks held", flush=True)
sys.stdin.readline()  # the data plane is running now
out = []
try:
    early.listen(16)
    out.append("joined")
except OSError as e:
    out.append("refused %d" % e.errno)
late = reuseport()
try:
    late.bind(("127.0.0.1", port))
    late.listen(16)
    out.append("joined")
except OSError as e:
    out.append("refused %d" % e.errno)
print(" ".join(out), flush=True)
sys.stdin.readline()
"""


def snapshot():
    doc = du.snapshot([du.api("a1", "/chat", [du.endpoint("e1", "http://127.0.0.1:9/v1")])],
                      [du.key("k1", KEY)])
    return du.write_snapshot(doc)


def start_dp(cfg, port, admin_port):
    return mm.Proc([mm.binary("modelmux-dp"), "--config", cfg, "--listen", "127.0.0.1:%d" % port,
                    "--admin-listen", "127.0.0.1:%d" % admin_port, "--workers", "2",
                    "--cache", os.path.join(tempfile.mkdtemp(), "c.json")])


@pytest.fixture
def other_user():
    if os.geteuid() != 0 or not shutil.which("useradd"):
        pytest.skip("needs root and useradd to run an attacker as another user")
    created = False
    try:
        pwd.getpwnam(OTHER_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        OTHER_USER], check=True)
        created = True
    pw = pwd.getpwnam(OTHER_USER)
    yield pw
    if created:
        subprocess.run(["userdel", OTHER_USER], check=False)


def as_user(pw, args):
    def drop():
        os.setgroups([])
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    return subprocess.Popen(args, preexec_fn=drop, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, cwd="/")


def test_another_user_cannot_block_or_join_the_data_plane(other_user):
    port, admin_port = mm.free_port(), mm.free_port()
    attacker = as_user(other_user, [sys.executable, "-c", ATTACKER, str(port), str(admin_port)])
    try:
        assert attacker.stdout.readline().strip() == "locks held"
        dp = start_dp(snapshot(), port, admin_port)
        mm.wait_port(port, proc=dp.p)
        assert mm.request(admin_port, "GET", "/readyz").status == 200
        # the attacker cannot take part of the connections either
        attacker.stdin.write("go\n")
        attacker.stdin.flush()
        assert attacker.stdout.readline().strip() == "refused 98 refused 98"  # EADDRINUSE
        for _ in range(20):
            assert mm.request(port, "GET", "/chat/x", headers={"Authorization": "Bearer " + KEY}).status == 404
        assert dp.stop() == 0
    finally:
        attacker.kill()
        attacker.wait()


def test_two_data_planes_started_together_never_share_the_port():
    cfg = snapshot()
    for _ in range(5):
        port = mm.free_port()
        procs = [start_dp(cfg, port, mm.free_port()) for _ in range(2)]
        mm.wait_until(lambda: any(p.poll() is not None for p in procs), timeout=10,
                      what="one of the two to exit")
        time.sleep(0.3 * mm.SLOW)
        exited = [p for p in procs if p.poll() is not None]
        running = [p for p in procs if p.poll() is None]
        assert len(exited) == 1 and len(running) == 1, [p.poll() for p in procs]
        assert exited[0].poll() == 1
        lines = exited[0].stderr().strip().splitlines()
        assert len(lines) == 1 and "in use" in lines[0], lines
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        assert running[0].stop() == 0
