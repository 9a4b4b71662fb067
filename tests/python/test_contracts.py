"""Data contracts end to end: a plan file proposed and approved with the `silta` CLI, events
from the official Segment library checked against it, the blocked one replayed after the plan
is fixed."""

import json
import subprocess

import pytest

from conftest import SILTA, Silta
from segment.analytics.client import Client as SegmentClient

PLAN = """\
name: Python backend
owner: checkout-team
events:
  - name: Order Completed
    description: A customer paid.
    properties:
      type: object
      required: [order_id, revenue]
      properties:
        order_id: {type: string}
        revenue: {type: number}
"""


@pytest.fixture()
def server(tmp_path):
    silta = Silta(tmp_path / "data")
    silta.write_key = silta.cli("sources", "add", "--name", "Python backend", "--channel", "server")
    silta.source_id = silta.cli("sources", "list").split("\t")[0]
    silta.token = silta.cli("tokens", "add", "--role", "analyst")
    silta.start()
    yield silta
    silta.stop()


def propose(silta, tmp_path, text, name):
    path = tmp_path / name
    path.write_text(text)
    return subprocess.run(
        [SILTA, "--data", str(silta.data_dir), "plan", "propose", "shop", str(path)],
        capture_output=True, text=True, env=silta.env,
    )


def test_a_blocked_event_from_the_segment_library_is_replayed_after_the_plan_is_fixed(server, tmp_path):
    done = propose(server, tmp_path, PLAN, "v1.yaml")
    assert done.returncode == 0, done.stderr
    assert '+ track "Order Completed": new event with 2 properties' in done.stdout
    server.cli("plan", "approve", "shop", "1", "--comment", "agreed with checkout-team")
    server.cli("plan", "attach", server.source_id, "--plan", "shop", "--mode", "block", "--unplanned", "flag")

    errors = []
    client = SegmentClient(server.write_key, host=server.url, sync_mode=True, on_error=lambda error, _: errors.append(error))
    client.track("user-1", "Order Completed", {"order_id": "o-1", "revenue": 49.5}, message_id="kept")
    client.track("user-1", "Order Completed", {"order_id": "o-2", "revenue": "49,50"}, message_id="blocked")
    client.track("user-1", "Newsletter Opened", {}, message_id="unplanned")
    client.flush()
    assert errors == [], "blocked events are kept in quarantine: the client gets a 200"

    counts = server.cli("violations", "--csv").splitlines()
    assert counts[0] == "source,type,event,field,kind,count,blocked,first_seen,last_seen"
    assert any(",track,Order Completed,properties.revenue,wrong_type,1,1," in line for line in counts), counts
    assert any(",track,Newsletter Opened,,unplanned_event,1,0," in line for line in counts), counts

    listed = [json.loads(line) for line in server.cli("quarantine", "list", "--replayable").splitlines()]
    assert [entry["message_id"] for entry in listed] == ["blocked"]
    record = str(listed[0]["record"])
    still = json.loads(server.cli("quarantine", "replay", record))
    assert still["still_blocked"][0]["violations"][0]["kind"] == "wrong_type"

    done = propose(server, tmp_path, PLAN.replace("revenue: {type: number}", "revenue: {type: [number, string]}"), "v2.yaml")
    assert done.returncode == 0, done.stderr
    assert '~ track "Order Completed" revenue: type number → number or string' in done.stdout
    assert "~" in server.cli("plan", "diff", "shop", "--from", "1", "--to", "2")
    server.cli("plan", "approve", "shop", "2")
    replayed = json.loads(server.cli("quarantine", "replay", record))
    assert replayed["replayed"] == [int(record)], replayed
    again = json.loads(server.cli("quarantine", "replay", record))
    assert again["already_replayed"] == [int(record)], again

    rows = server.sql(server.token, "SELECT message_id, violations IS NOT NULL AS flagged FROM events ORDER BY message_id")
    assert rows == [
        {"message_id": "blocked", "flagged": False},
        {"message_id": "kept", "flagged": False},
        {"message_id": "unplanned", "flagged": True},
    ]
    exported = server.cli("plan", "export", "shop")
    assert exported.startswith("name: Python backend")
    draft = server.cli("plan", "draft", "--source", "Python backend", "--since", "1d")
    assert "name: Order Completed" in draft and "name: Newsletter Opened" in draft


def test_a_plan_file_with_problems_is_refused_with_their_lines(server, tmp_path):
    broken = PLAN.replace("    description: A customer paid.\n", "    descripton: A customer paid.\n")
    broken += "  - type: identify\n    name: not allowed\n"
    done = propose(server, tmp_path, broken, "broken.yaml")
    assert done.returncode != 0
    assert "line 5" in done.stderr and "descripton" in done.stderr, done.stderr
