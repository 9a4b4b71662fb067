"""Silta's experiment analysis against GrowthBook's own stats engine (gbstats from PyPI), on
the same summary statistics: frequentist and sequential, relative and absolute lift, means and
proportions, and the sample ratio mismatch check.

gbstats needs numpy below 2, the deltalake reader numpy 2: gbstats runs in its own environment
(`SILTA_GBSTATS_PYTHON`, made by scripts/test.sh) on the script below."""

import json
import os
import random
import subprocess
import urllib.request

import pytest

from conftest import Silta

GBSTATS_PYTHON = os.environ.get(
    "SILTA_GBSTATS_PYTHON", os.path.expanduser("~/.cache/silta-gbstats/bin/python")
)

# Reads {"variations", "difference", "sequential", "weights"}; prints gbstats' results.
GBSTATS = """
import json, sys
from gbstats.frequentist.tests import (
    FrequentistConfig, SequentialConfig, SequentialTwoSidedTTest, TwoSidedTTest,
)
from gbstats.models.statistics import ProportionStatistic, SampleMeanStatistic
from gbstats.utils import check_srm

def statistic(stat):
    if stat["type"] == "proportion":
        return ProportionStatistic(n=stat["n"], sum=stat["sum"])
    return SampleMeanStatistic(n=stat["n"], sum=stat["sum"], sum_squares=stat["sum_squares"])

case = json.load(sys.stdin)
control = statistic(case["variations"][0])
results = []
for treatment in case["variations"][1:]:
    if case["sequential"]:
        config = SequentialConfig(alpha=0.05, difference_type=case["difference"],
                                  sequential_tuning_parameter=5000)
        test = SequentialTwoSidedTTest(control, statistic(treatment), config)
    else:
        config = FrequentistConfig(alpha=0.05, difference_type=case["difference"])
        test = TwoSidedTTest(control, statistic(treatment), config)
    result = test.compute_result()
    results.append({"expected": result.expected, "ci": list(result.ci), "p_value": result.p_value})
srm = check_srm([v["n"] for v in case["variations"]], case["weights"])
print(json.dumps({"results": results, "srm": srm}))
"""


def gbstats(case):
    done = subprocess.run([GBSTATS_PYTHON, "-c", GBSTATS], input=json.dumps(case),
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def post(server, token, path, body):
    request = urllib.request.Request(
        server.url + path, data=json.dumps(body).encode(), method=("PUT" if "analysis" not in path else "POST"),
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def random_statistics(rng, kind):
    n = rng.randint(50, 200_000)
    if kind == "proportion":
        return {"type": "proportion", "n": n, "sum": float(rng.randint(1, n - 1))}
    mean, sd = rng.uniform(1, 100), rng.uniform(0.5, 50)
    values_sum = mean * n
    return {"type": "mean", "n": n, "sum": values_sum, "sum_squares": (sd ** 2) * (n - 1) + values_sum ** 2 / n}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = Silta(tmp_path_factory.mktemp("gbstats"))
    server.token = server.cli("tokens", "add", "--role", "marketer")
    server.start()
    post(server, server.token, "/v1/experiments/pricing",
         {"key": "pricing", "variations": ["control", "a", "b"], "weights": [0.5, 0.25, 0.25]})
    yield server
    server.stop()


@pytest.mark.parametrize("seed", range(40))
def test_results_agree_with_gbstats_to_1e_6(server, seed):
    rng = random.Random(seed)
    kind = "proportion" if seed % 2 else "mean"
    variations = [random_statistics(rng, kind) for _ in range(3)]
    difference = "absolute" if seed % 4 >= 2 else "relative"
    sequential = seed % 8 >= 4
    config = {"alpha": 0.05, "difference": difference, "sequential_tuning": 5000.0 if sequential else None}
    silta = post(server, server.token, "/v1/experiments/pricing/analysis", {"variations": variations, "config": config})

    reference = gbstats({"variations": variations, "difference": difference,
                         "sequential": sequential, "weights": [0.5, 0.25, 0.25]})
    for ours, expected in zip(silta["results"], reference["results"], strict=True):
        assert ours["error"] is None
        assert ours["expected"] == pytest.approx(expected["expected"], abs=1e-6, rel=1e-6)
        assert ours["ci"][0] == pytest.approx(expected["ci"][0], abs=1e-6, rel=1e-6)
        assert ours["ci"][1] == pytest.approx(expected["ci"][1], abs=1e-6, rel=1e-6)
        assert ours["p_value"] == pytest.approx(expected["p_value"], abs=1e-6)
    assert silta["srm_p_value"] == pytest.approx(reference["srm"], abs=1e-6)
    assert silta["srm_warning"] == (reference["srm"] < 0.001)


def request(server, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    headers = {"Authorization": "Bearer " + server.token, "Content-Type": "application/json"}
    call = urllib.request.Request(server.url + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(call, timeout=60) as response:
        return json.load(response)


def test_benjamini_hochberg_agrees_with_scipy(server):
    metrics = [{"name": name, "kind": "conversion", "event": name} for name in ("A", "B", "C")]
    request(server, "PUT", "/v1/experiments/corrections",
            {"key": "corrections", "variations": ["control", "x", "y"], "metrics": metrics})
    people = [{"identifier_type": "anonymous_id", "value": f"p{i}", "record_exposure": True} for i in range(300)]
    assigned = request(server, "POST", "/v1/experiments/corrections/assignments", {"people": people})
    rng = random.Random(7)
    write_key = server.cli("sources", "add", "--name", "Corrections", "--channel", "server")
    batch = []
    for person, assignment in zip(people, assigned):
        for name, base in (("A", 0.2), ("B", 0.3), ("C", 0.4)):
            if rng.random() < base + 0.1 * assignment["variation"] * (name == "A"):
                batch.append({"type": "track", "event": name, "anonymousId": person["value"]})
    events = urllib.request.Request(
        server.url + "/v1/batch", data=json.dumps({"writeKey": write_key, "batch": batch}).encode(),
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(events, timeout=60).close()
    results = request(server, "GET", "/v1/experiments/corrections/results?correction=benjamini_hochberg")
    raw = [result["p_value"] for metric in results["metrics"] for result in metric["results"]]
    ours = [p for metric in results["metrics"] for p in metric["adjusted_p_values"]]
    assert len(raw) == 6 and len(set(raw)) == 6, raw
    script = ("import json, sys; from scipy.stats import false_discovery_control; "
              "print(json.dumps(list(false_discovery_control(json.load(sys.stdin), method='bh'))))")
    done = subprocess.run([GBSTATS_PYTHON, "-c", script], input=json.dumps(raw),
                          capture_output=True, text=True, check=True)
    assert ours == pytest.approx(json.loads(done.stdout), abs=1e-9)
