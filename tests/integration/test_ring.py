"""/ring, Loki's ring status page, on the single binary's one-instance in-memory ring."""

from helpers.server import wait_until


def _shards(sluice):
    r = sluice.get("/ring", params={"format": "json"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    return r.json()


def test_ring_json_lists_this_instance_active(sluice_factory):
    s = sluice_factory(flags=["-ingester.lifecycler.id=ring-test-1",
                              "-ingester.lifecycler.availability_zone=zone-a",
                              "-ingester.lifecycler.num_tokens=64"])
    wait_until(lambda: _shards(s)["shards"] and _shards(s)["shards"][0]["state"] == "ACTIVE",
               timeout=10, what="the instance to be ACTIVE in /ring")
    body = _shards(s)
    assert set(body) == {"shards", "now"}
    [shard] = body["shards"]
    assert shard["id"] == "ring-test-1"
    assert shard["zone"] == "zone-a"
    assert shard["address"].endswith(":%d" % s.port)
    assert len(shard["tokens"]) == 64
    assert len(set(shard["tokens"])) == 64
    assert shard["timestamp"].endswith("Z") and shard["registered_timestamp"].endswith("Z")
    # An Accept header asks for JSON as well, as in Loki.
    r = s.get("/ring", headers={"Accept": "application/json"})
    assert r.json()["shards"][0]["id"] == "ring-test-1"
    # The metrics Loki exports for a ring (labelled name="ingester", the one ring here; the
    # helper's own `name` argument keeps that label out of the filter).
    m = s.metrics()
    assert m.value("loki_ring_members", state="ACTIVE") == 1
    assert m.value("loki_ring_members", state="Unhealthy") == 0
    assert m.value("loki_ring_tokens_total") == 64


def test_ring_html_and_forget(sluice_factory):
    s = sluice_factory(flags=["-ingester.lifecycler.id=ring-test-2"])
    r = s.get("/ring")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "<td>ring-test-2</td>" in r.text
    assert 'name="forget" value="ring-test-2"' in r.text
    # A form without an id is a client error; forgetting removes the entry (until the next
    # heartbeat re-registers it, as a Loki ingester's would).
    r = s.post("/ring", data={}, allow_redirects=False)
    assert r.status_code == 400
    assert "forget" in r.text
    r = s.post("/ring", data={"forget": "ring-test-2"}, allow_redirects=False)
    assert r.status_code == 302
    assert r.headers["location"] == "#"
