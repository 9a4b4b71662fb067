"""Schemathesis generates requests from the OpenAPI document the server serves, valid and
invalid, for every operation, and checks that none gets a 5xx or breaks the server."""

import subprocess
import sys

from conftest import Silta


def test_no_generated_request_gets_a_server_error(tmp_path):
    server = Silta(tmp_path / "data")
    write_key = server.cli("sources", "add", "--name", "Fuzzed", "--channel", "other")
    admin = server.cli("tokens", "add", "--role", "admin")
    server.start()
    try:
        done = subprocess.run(
            [
                sys.executable, "-m", "schemathesis.cli", "run", server.url + "/openapi.json",
                "--checks", "not_a_server_error",
                "--header", f"Authorization: Bearer {admin}",
                "--header", f"X-Write-Key: {write_key}",
                # Loading the demo data set is a long job, not an input-handling question.
                "--exclude-path", "/v1/demo",
                "--max-examples", "40", "--seed", "20261202", "--workers", "1",
                "--request-timeout", "30",
            ],
            capture_output=True, text=True, timeout=1800,
        )
        assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
        assert "not_a_server_error" in done.stdout, done.stdout[-3000:]
        assert server.process.poll() is None, "the server survived"
        assert server.get(admin, "/v1/sources")
    finally:
        server.stop()
