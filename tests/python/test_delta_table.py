"""An external engine reads Silta's events table as it is on disk."""

import uuid

from deltalake import DeltaTable
from segment.analytics.client import Client as SegmentClient


def test_the_events_table_is_a_delta_table_any_engine_can_read(silta):
    client = SegmentClient(silta.write_key, host=silta.url, sync_mode=True)
    message_ids = [f"delta-{uuid.uuid4()}" for _ in range(3)]
    for number, message_id in enumerate(message_ids):
        client.track("user-delta", "Delta Checked", {"number": number}, message_id=message_id)
    client.flush()
    # A clean stop commits everything buffered.
    silta.stop()

    table = DeltaTable(str(silta.data_dir / "tables" / "events"))
    assert table.metadata().partition_columns == ["event_date"]
    rows = table.to_pyarrow_table().to_pylist()
    ours = sorted((row for row in rows if row["message_id"] in message_ids), key=lambda row: row["message_id"])
    assert len(ours) == 3
    assert {row["event"] for row in ours} == {"Delta Checked"}
    assert {row["channel"] for row in ours} == {"server"}
    assert all(row["event_date"] == row["timestamp"].date() for row in ours)
