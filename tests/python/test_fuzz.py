"""Schemathesis generates requests from the OpenAPI document the server serves, valid and
invalid, for every operation, and checks that none gets a 5xx or breaks the server."""

import json
import re
import subprocess
import sys
import urllib.request

from conftest import Silta


def test_no_generated_request_gets_a_server_error(tmp_path):
    server = Silta(tmp_path / "data")
    write_key = server.cli("sources", "add", "--name", "Fuzzed", "--channel", "other")
    admin = server.cli("tokens", "add", "--role", "admin")
    # Generated destinations may name any host: only loopback ones are accepted.
    config = tmp_path / "silta.toml"
    config.write_text('destination_hosts = ["127.0.0.1", "localhost"]\n')
    server.start("--config", str(config))
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
        counts = re.search(r"(\d+) generated, (\d+) passed", done.stdout)
        assert counts, done.stdout[-3000:]
        generated, passed = map(int, counts.groups())
        assert generated == passed and generated >= 1000, done.stdout[-3000:]
        assert server.process.poll() is None, "the server survived"
        # The fuzzer may well have revoked the tokens it was given (it follows the ids that
        # listings return); the server must still answer.
        with urllib.request.urlopen(server.url + "/health", timeout=30) as response:
            assert json.load(response)["status"] == "ok"
    finally:
        server.stop()
