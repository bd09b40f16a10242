from tests.api.helpers import primary, step


def test_collect_receive_process(api):
    s = primary(api)
    assert s["state"] == "collected"
    assert "receive" in s["allowed_events"]
    s = step(api, s["id"], "receive")
    assert s["state"] == "received"
    s = step(api, s["id"], "start_processing", data={"method": "volume_reduction"})
    assert s["state"] == "in_processing"
