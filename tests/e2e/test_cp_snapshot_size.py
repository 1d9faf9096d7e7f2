"""The snapshot grows with keys + subscriptions, not their product (issue 11
item 11), light variant for the normal suite: 2,000 keys, 50 APIs, 40
applications each subscribed to 20 APIs, written into the database, then
built and published by the real control plane and applied by a real data
plane. The issue's target is test_heavy_snapshot_size.py."""

import snap_util


def test_snapshot_of_2000_keys_is_small_fast_and_works():
    size, _, _ = snap_util.check_scale(napis=50, napps=40, subs_per_app=20, nkeys=2000,
                                       max_bytes=1_000_000, max_build_s=1.0, max_apply_s=2.0)
    # About 200 bytes a key: subscriptions are not repeated in each key.
    assert size < 2000 * 200 + 40 * 20 * 40 + 50 * 2000, size
