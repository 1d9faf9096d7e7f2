"""Issue 11 item 1: the control plane's database holds vendor keys.
Its files (modelmux.db, -wal, -shm) are created 0600 whatever the umask,
looser modes left by earlier runs are fixed with a warning, and with
MODELMUX_SECRETS_KEY the secret values are stored sealed (AES-256-GCM) and
never appear in the files, while the snapshot still carries them. A wrong
or missing key for an encrypted database is one line and exit 1; a plain
database is encrypted on the first start with a key; MODELMUX_SECRETS_KEY_OLD
rotates the key (SPEC 2, 5)."""
import base64
import os
import sqlite3
import stat
import subprocess
import tempfile

import pytest

import mm
from cp_util import dp_config, revision

KEY1 = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
KEY2 = base64.b64encode(bytes(range(100, 132))).decode()  # base64 works too
KEY3 = base64.urlsafe_b64encode(bytes(range(200, 232))).decode().rstrip("=")
MARKER = "mmsealed1:"
SECRETS = {"openai": {"apiKey": "sk-openai-SECRET-value-0001"},
           "azure": {"apiKey": "az-SECRET-value-0002", "other": "x-SECRET-value-0003"}}
PLAINS = [v for s in SECRETS.values() for v in s.values()]


@pytest.fixture
def umask022():
    old = os.umask(0o022)  # the usual umask: files would be 0644
    yield
    os.umask(old)


def start(db, key=None, old_key=None):
    return mm.ControlPlane(db=db, env={"MODELMUX_SECRETS_KEY": key, "MODELMUX_SECRETS_KEY_OLD": old_key})


def run_cp(db, key=None, old_key=None):
    """Runs modelmux-cp expecting it to fail at start; returns the result."""
    e = dict(os.environ)
    e.update({"MODELMUX_ADMIN_TOKEN": mm.ADMIN_TOKEN, "MODELMUX_DP_TOKEN": mm.DP_TOKEN})
    for k, v in (("MODELMUX_SECRETS_KEY", key), ("MODELMUX_SECRETS_KEY_OLD", old_key)):
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    return subprocess.run([mm.binary("modelmux-cp"), "--listen", "127.0.0.1:%d" % mm.free_port(),
                           "--db", db], capture_output=True, text=True, env=e, timeout=10 * mm.SLOW)


def put_secrets(cp):
    for name, values in SECRETS.items():
        cp.ok("PUT", "/secrets/" + name, values)


def use_secrets(cp):
    """An API whose endpoints use every secret value (so the snapshot
    resolves them)."""
    vendors = cp.ok("GET", "/vendors")["items"]
    openai = [v for v in vendors if v["name"] == "OpenAI"][0]
    api = cp.ok("POST", "/apis", {"name": "chat", "basePath": "/chat", "version": "v1",
                                  "vendor": openai["id"]}, expect=201)
    i = 0
    for name, values in SECRETS.items():
        for k in values:
            i += 1
            cp.ok("POST", "/apis/%s/endpoints" % api["id"],
                  {"name": "e%d" % i, "environment": "production", "url": "http://127.0.0.1:9/v1",
                   "security": {"secret": name, "secretKey": k}, "timeoutMs": 1000}, expect=201)


def snapshot_values(cp):
    r = dp_config(cp, after=0)
    assert r.status == 200, r
    vals = []
    for api in r.json()["apis"]:
        for ep in api["endpoints"]:
            vals.append(ep["auth"]["value"])
    return sorted(vals)


def files_of(db):
    return [p for p in (db, db + "-wal", db + "-shm") if os.path.exists(p)]


def stored_values(db):
    c = sqlite3.connect(db)
    try:
        return {(n, k): v for n, k, v in c.execute("SELECT secret_name, key, value FROM secret_values")}
    finally:
        c.close()


def raw_bytes(db):
    data = b""
    for p in files_of(db):
        with open(p, "rb") as f:
            data += f.read()
    return data


def new_db():
    return os.path.join(tempfile.mkdtemp(prefix="mm-at-rest-"), "modelmux.db")


# --- file modes ----------------------------------------------------------------

def test_database_files_are_created_0600(umask022):
    db = new_db()
    cp = start(db)
    put_secrets(cp)
    files = files_of(db)
    assert db + "-wal" in files and db + "-shm" in files, files
    for p in files:
        assert stat.filemode(os.stat(p).st_mode) == "-rw-------", (p, stat.filemode(os.stat(p).st_mode))
    assert cp.stop() == 0
    assert stat.filemode(os.stat(db).st_mode) == "-rw-------"


def test_looser_modes_are_fixed_with_a_warning(umask022):
    db = new_db()
    cp = start(db)
    put_secrets(cp)
    cp.kill()  # -wal and -shm stay behind
    loose = files_of(db)
    assert len(loose) == 3
    for p in loose:
        os.chmod(p, 0o644)
    cp = start(db)
    for p in files_of(db):
        assert stat.filemode(os.stat(p).st_mode) == "-rw-------", p
    log = cp.stderr()
    for p in loose:
        assert "%s had mode 0644" % p in log, log
    assert cp.ok("GET", "/secrets/openai")["keys"] == ["apiKey"]
    assert cp.stop() == 0


# --- encryption ------------------------------------------------------------------

def test_values_are_sealed_and_the_snapshot_has_them():
    db = new_db()
    cp = start(db, key=KEY1)
    put_secrets(cp)
    use_secrets(cp)
    assert snapshot_values(cp) == sorted("Bearer " + v for v in PLAINS)
    # nothing in the files: neither the database nor its WAL
    data = raw_bytes(db)
    for v in PLAINS:
        assert v.encode() not in data
    stored = stored_values(db)
    assert len(stored) == len(PLAINS)
    assert all(v.startswith(MARKER) for v in stored.values()), stored
    # the same value twice is sealed differently (a nonce per value)
    cp.ok("PUT", "/secrets/copy", {"a": "same-value-1234", "b": "same-value-1234"})
    stored = stored_values(db)
    assert stored[("copy", "a")] != stored[("copy", "b")]
    # the API shows key names only, never values
    assert cp.ok("GET", "/secrets/azure") == {"name": "azure", "keys": ["apiKey", "other"]}
    # replacing and deleting go through too
    cp.ok("PUT", "/secrets/openai", {"apiKey": "sk-openai-SECRET-value-9999"})
    assert "Bearer sk-openai-SECRET-value-9999" in snapshot_values(cp)
    cp.ok("DELETE", "/secrets/copy", expect=204)
    assert ("copy", "a") not in stored_values(db)
    assert cp.stop() == 0
    assert b"sk-openai-SECRET-value-9999" not in raw_bytes(db)
    # restarted with the same key: same snapshot
    cp = start(db, key=KEY1)
    assert "Bearer sk-openai-SECRET-value-9999" in snapshot_values(cp)
    assert cp.stop() == 0


def test_a_value_moved_to_another_secret_does_not_open():
    """The secret's name and key name are the associated data: a sealed value
    copied under another name (by someone with write access to the file) is
    refused, never served."""
    db = new_db()
    cp = start(db, key=KEY1)
    put_secrets(cp)
    use_secrets(cp)
    assert cp.stop() == 0
    c = sqlite3.connect(db)
    c.execute("UPDATE secret_values SET value = (SELECT value FROM secret_values WHERE secret_name = 'openai') "
              "WHERE secret_name = 'azure' AND key = 'apiKey'")
    c.commit()
    c.close()
    cp = start(db, key=KEY1)
    r = dp_config(cp, after=0)
    assert r.status == 500, r
    assert "sk-openai" not in r.text
    assert cp.stop() == 0


def test_plain_database_is_encrypted_on_the_first_start_with_a_key():
    db = new_db()
    cp = start(db)
    put_secrets(cp)
    use_secrets(cp)
    before = snapshot_values(cp)
    rev = revision(cp)
    assert cp.stop() == 0
    assert sorted(stored_values(db).values()) == sorted(PLAINS)  # plain without a key
    cp = start(db, key=KEY2)
    assert "secret values: 3 encrypted" in cp.stderr()
    data = raw_bytes(db)
    for v in PLAINS:
        assert v.encode() not in data
    assert all(v.startswith(MARKER) for v in stored_values(db).values())
    assert snapshot_values(cp) == before
    assert revision(cp) == rev  # the configuration did not change
    assert cp.stop() == 0
    # no trace of the plain text left in free pages or the WAL
    data = raw_bytes(db)
    for v in PLAINS:
        assert v.encode() not in data


def test_wrong_missing_or_malformed_key_fails_with_one_line():
    db = new_db()
    cp = start(db, key=KEY1)
    put_secrets(cp)
    assert cp.stop() == 0
    for key, code, words in ((KEY2, 1, "is not the key"), (None, 1, "set MODELMUX_SECRETS_KEY"),
                             ("", 1, "set MODELMUX_SECRETS_KEY"), ("abcd", 2, "32 bytes"),
                             (KEY1[:-2], 2, "32 bytes")):
        r = run_cp(db, key=key)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == code and len(lines) == 1 and words in lines[0], (key, r.returncode, lines)
        assert "MODELMUX_SECRETS_KEY" in lines[0]
        assert KEY1 not in r.stderr and (not key or key not in r.stderr)
    # nothing was changed by the failed starts
    cp = start(db, key=KEY1)
    assert cp.ok("GET", "/secrets/azure")["keys"] == ["apiKey", "other"]
    assert cp.stop() == 0


def test_key_rotation_with_the_old_key():
    db = new_db()
    cp = start(db, key=KEY1)
    put_secrets(cp)
    use_secrets(cp)
    before = snapshot_values(cp)
    assert cp.stop() == 0
    sealed1 = stored_values(db)
    # a wrong old key does not help
    r = run_cp(db, key=KEY3, old_key=KEY2)
    assert r.returncode == 1 and "MODELMUX_SECRETS_KEY_OLD" in r.stderr, r.stderr
    cp = start(db, key=KEY3, old_key=KEY1)
    assert "secret values: 3 re-encrypted with the new MODELMUX_SECRETS_KEY" in cp.stderr()
    assert snapshot_values(cp) == before
    assert cp.stop() == 0
    sealed3 = stored_values(db)
    assert all(sealed3[k] != sealed1[k] and sealed3[k].startswith(MARKER) for k in sealed1)
    # restarting with both still set is harmless; then the new key alone works,
    # and the old one no longer does
    cp = start(db, key=KEY3, old_key=KEY1)
    assert "re-encrypted" not in cp.stderr()
    assert cp.stop() == 0
    cp = start(db, key=KEY3)
    assert snapshot_values(cp) == before
    assert cp.stop() == 0
    r = run_cp(db, key=KEY1)
    assert r.returncode == 1 and "is not the key" in r.stderr
