"""A real `silta serve` process on a temporary data directory, shared by the client tests."""

import json
import os
import subprocess
import urllib.request

import pytest

SILTA = os.environ.get("TEST_SILTA_BIN", "silta")


class Silta:
    def __init__(self, data_dir):
        self.data_dir = data_dir
        self.env = dict(os.environ, SILTA_FLUSH_INTERVAL_MS="200", SILTA_LOG="warn")
        self.process = None
        self.url = None

    def cli(self, *args):
        done = subprocess.run(
            [SILTA, "--data", str(self.data_dir), *args],
            check=True, capture_output=True, text=True, env=self.env,
        )
        return done.stdout.strip()

    def start(self, *args, stderr=subprocess.DEVNULL, listen="127.0.0.1:0"):
        self.process = subprocess.Popen(
            [SILTA, "--data", str(self.data_dir), "serve", "--listen", listen, *args],
            stdout=subprocess.PIPE, stderr=stderr, text=True, env=self.env,
        )
        first_line = self.process.stdout.readline().strip()
        assert first_line.startswith("listening on "), first_line
        self.url = first_line.removeprefix("listening on ")

    def stop(self):
        self.process.terminate()
        assert self.process.wait(timeout=60) == 0

    def sql(self, token, query):
        request = urllib.request.Request(
            self.url + "/v1/query",
            data=json.dumps({"sql": query}).encode(),
            headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)["rows"]


    def get(self, token, path):
        request = urllib.request.Request(self.url + path, headers={"Authorization": "Bearer " + token})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)


@pytest.fixture(scope="module")
def silta(tmp_path_factory):
    server = Silta(tmp_path_factory.mktemp("silta-data"))
    server.write_key = server.cli("sources", "add", "--name", "Python backend", "--channel", "server")
    server.token = server.cli("tokens", "add", "--role", "marketer")
    server.start()
    yield server
    if server.process.poll() is None:
        server.stop()
