"""Issue 11 item 2: the data plane's cache (every vendor key) is written
through a new file of its own: a symlink planted at the old predictable
temporary name (<cache>.tmp.<pid>) or at the cache's own name receives
nothing, and the cache ends up a regular file with mode 0600 (SPEC 5)."""
import json
import os
import stat

import dp_util as du
import mm


def configure(cp, secret):
    vendors = cp.ok("GET", "/vendors")["items"]
    openai = [v for v in vendors if v["name"] == "OpenAI"][0]
    cp.ok("PUT", "/secrets/up", {"apiKey": secret})
    api = cp.ok("POST", "/apis", {"name": "chat", "basePath": "/chat", "version": "v1",
                                  "vendor": openai["id"]}, expect=201)
    cp.ok("POST", "/apis/%s/endpoints" % api["id"],
          {"name": "mock", "environment": "production", "url": "http://127.0.0.1:9/v1",
           "security": {"secret": "up", "secretKey": "apiKey"}, "timeoutMs": 60000}, expect=201)


def applied(dp):
    return du.metric_value(dp.metrics(), "modelmux_config_revision")


def revision(cp):
    return cp.ok("GET", "/revision")["revision"]


def cache_revision(path):
    with open(path) as f:
        return json.load(f)["revision"]


def assert_private_regular_file(path):
    st = os.lstat(path)
    assert stat.S_ISREG(st.st_mode), "not a regular file: %s" % stat.filemode(st.st_mode)
    assert stat.filemode(st.st_mode) == "-rw-------", stat.filemode(st.st_mode)
    assert st.st_uid == os.geteuid()


def test_planted_symlinks_receive_nothing():
    cp = mm.ControlPlane()
    configure(cp, "sk-first-secret-000")
    dp = mm.DataPlane(cp=cp)
    mm.wait_until(lambda: applied(dp) == revision(cp), what="first revision applied")
    mm.wait_until(lambda: os.path.exists(dp.cache) and cache_revision(dp.cache) == revision(cp),
                  what="cache written")
    assert_private_regular_file(dp.cache)

    # The attacker's files live elsewhere; the links point there.
    loot_dir = os.path.join(dp.tmp, "loot")
    os.mkdir(loot_dir)
    old_tmp_loot = os.path.join(loot_dir, "tmp-name")
    cache_loot = os.path.join(loot_dir, "cache-name")
    os.symlink(old_tmp_loot, "%s.tmp.%d" % (dp.cache, dp.pid))
    # the cache's own name replaced by a link: rename must replace the link
    os.unlink(dp.cache)
    os.symlink(cache_loot, dp.cache)

    cp.ok("PUT", "/secrets/up", {"apiKey": "sk-second-secret-111"})
    rev = revision(cp)
    mm.wait_until(lambda: applied(dp) == rev, what="second revision applied")
    mm.wait_until(lambda: not os.path.islink(dp.cache) and cache_revision(dp.cache) == rev,
                  what="cache rewritten")
    assert_private_regular_file(dp.cache)
    with open(dp.cache) as f:
        assert "sk-second-secret-111" in f.read()
    assert not os.path.exists(old_tmp_loot), "the planted temp symlink received the snapshot"
    assert not os.path.exists(cache_loot), "the planted cache symlink received the snapshot"
    # the planted link is left alone, and no temporary file of ours is left behind
    left = sorted(os.listdir(os.path.dirname(dp.cache)))
    assert left == sorted(["cache.json", "cache.json.tmp.%d" % dp.pid, "loot"]), left
    assert dp.stop() == 0


def test_loose_existing_cache_is_replaced_by_a_0600_file():
    cp = mm.ControlPlane()
    configure(cp, "sk-first-secret-000")
    dp0 = mm.DataPlane(cp=cp)
    mm.wait_until(lambda: os.path.exists(dp0.cache) and cache_revision(dp0.cache) == revision(cp),
                  what="cache written")
    cache = dp0.cache
    assert dp0.stop() == 0
    os.chmod(cache, 0o644)
    cp.ok("PUT", "/secrets/up", {"apiKey": "sk-second-secret-111"})
    dp = mm.DataPlane(cp=cp, cache=cache)
    rev = revision(cp)
    mm.wait_until(lambda: cache_revision(cache) == rev, what="cache rewritten")
    assert_private_regular_file(cache)
    assert dp.stop() == 0
