"""The in-memory TTL map (channels/common/ttl_cache.py), on a fake clock."""

from __future__ import annotations

from channels.common.ttl_cache import TtlCache


def test_ttl_cache_expires_and_bounds_its_entries() -> None:
    now = [0.0]
    cache: TtlCache[str] = TtlCache(ttl_s=10, max_entries=2, clock=lambda: now[0])
    cache.put("a", "1")
    now[0] = 5
    cache.put("b", "2")
    assert (cache.get("a"), cache.get("b"), len(cache)) == ("1", "2", 2)
    now[0] = 10
    assert (cache.get("a"), cache.get("b"), len(cache)) == (None, "2", 1)
    cache.put("c", "3")
    cache.put("d", "4")  # full: the oldest ("b") goes
    assert (cache.get("b"), cache.get("c"), cache.get("d")) == (None, "3", "4")
    assert cache.pop("c") == "3"
    assert cache.pop("c") is None
    now[0] = 15
    cache.put("d", "5")  # a new put renews the entry's life
    now[0] = 24.9
    assert cache.get("d") == "5"
    now[0] = 25.0
    assert cache.get("d") is None
