"""Silta's experiment analysis against GrowthBook's own stats engine (gbstats from PyPI), on
the same summary statistics: frequentist, sequential and Bayesian, relative and absolute lift,
means, proportions, ratio metrics and CUPED (regression adjustment), and the sample ratio
mismatch check.

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

# Reads {"variations", "difference", "sequential", "bayesian", "weights"}; prints gbstats'
# results. Regression-adjusted statistics share the theta of control and treatment, as gbstats'
# own analysis sets it.
GBSTATS = """
import json, sys
from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig, GaussianPrior
from gbstats.frequentist.tests import (
    FrequentistConfig, SequentialConfig, SequentialTwoSidedTTest, TwoSidedTTest,
)
from gbstats.models.statistics import (
    ProportionStatistic, RatioStatistic, RegressionAdjustedStatistic, SampleMeanStatistic,
    compute_theta,
)
from gbstats.utils import check_srm

def component(part, n):
    if part["type"] == "proportion":
        return ProportionStatistic(n=n, sum=part["sum"])
    return SampleMeanStatistic(n=n, sum=part["sum"], sum_squares=part["sum_squares"])

def statistic(stat):
    n = stat["n"]
    if stat["type"] == "ratio":
        return RatioStatistic(n=n, m_statistic=component(stat["numerator"], n),
                              d_statistic=component(stat["denominator"], n),
                              m_d_sum_of_products=stat["sum_of_products"])
    if stat["type"] == "regression_adjusted":
        return RegressionAdjustedStatistic(n=n, post_statistic=component(stat["post"], n),
                                           pre_statistic=component(stat["pre"], n),
                                           post_pre_sum_of_products=stat["post_pre_sum_of_products"],
                                           theta=0)
    return component(stat, n)

case = json.load(sys.stdin)
results = []
for treatment in case["variations"][1:]:
    a, b = statistic(case["variations"][0]), statistic(treatment)
    if isinstance(a, RegressionAdjustedStatistic):
        a.theta = b.theta = compute_theta(a, b)
    bayesian = case.get("bayesian")
    if bayesian is not None:
        prior = bayesian.get("prior")
        effect = (GaussianPrior(mean=prior["mean"], variance=prior["stddev"] ** 2, proper=True)
                  if prior else GaussianPrior())
        config = EffectBayesianConfig(difference_type=case["difference"], prior_effect=effect)
        result = EffectBayesianABTest(a, b, config).compute_result()
        results.append({"expected": result.expected, "ci": list(result.ci),
                        "chance_to_win": result.chance_to_win, "risk": list(result.risk)})
        continue
    if case["sequential"]:
        config = SequentialConfig(alpha=0.05, difference_type=case["difference"],
                                  sequential_tuning_parameter=5000)
        test = SequentialTwoSidedTTest(a, b, config)
    else:
        config = FrequentistConfig(alpha=0.05, difference_type=case["difference"])
        test = TwoSidedTTest(a, b, config)
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


def random_shape(rng, binary):
    """What the variations of one case share: rates or means and spreads of two components, and
    their correlation."""
    if binary:
        return {"rates": (rng.uniform(0.05, 0.6), rng.uniform(0.05, 0.6)), "overlap": rng.uniform(0, 1)}
    return {"means": (rng.uniform(1, 100), rng.uniform(1, 100)), "sds": (rng.uniform(0.5, 50), rng.uniform(0.5, 50)),
            "correlation": rng.uniform(-0.3, 0.9)}


def random_pair(rng, n, shape):
    """Two components over the same n units and their sum of products, near the case's shape:
    numerator and denominator of a ratio, or a metric after and before exposure."""
    if "rates" in shape:
        first, second = (max(1, min(n - 1, round(n * rate * rng.uniform(0.95, 1.05)))) for rate in shape["rates"])
        low, high = max(0, first + second - n), min(first, second)
        both = low + round((high - low) * shape["overlap"])
        return ({"type": "proportion", "sum": float(first)}, {"type": "proportion", "sum": float(second)},
                float(both))
    (mean_x, mean_y), (sd_x, sd_y) = shape["means"], shape["sds"]
    sum_x, sum_y = mean_x * n * rng.uniform(0.97, 1.03), mean_y * n * rng.uniform(0.97, 1.03)
    products = shape["correlation"] * sd_x * sd_y * (n - 1) + sum_x * sum_y / n

    def part(total, sd):
        return {"type": "mean", "sum": total, "sum_squares": sd ** 2 * (n - 1) + total ** 2 / n}

    return part(sum_x, sd_x), part(sum_y, sd_y), products


def random_adjusted_or_ratio(rng, kind, shape):
    n = rng.randint(50, 200_000)
    first, second, products = random_pair(rng, n, shape)
    if kind == "ratio":
        return {"type": "ratio", "n": n, "numerator": first, "denominator": second, "sum_of_products": products}
    return {"type": "regression_adjusted", "n": n, "post": first, "pre": second,
            "post_pre_sum_of_products": products}


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


def assert_agrees(ours, expected, fields):
    assert ours["error"] is None, ours
    for field in fields:
        if isinstance(expected[field], list):
            for mine, theirs in zip(ours[field], expected[field], strict=True):
                assert mine == pytest.approx(theirs, abs=1e-6, rel=1e-6), field
        else:
            assert ours[field] == pytest.approx(expected[field], abs=1e-6, rel=1e-6), field


@pytest.mark.parametrize("seed", range(32))
def test_ratio_metrics_cuped_and_the_bayesian_mode_agree_with_gbstats_to_1e_6(server, seed):
    rng = random.Random(1000 + seed)
    kind = "ratio" if seed % 2 else "regression_adjusted"
    shape = random_shape(rng, binary=kind == "regression_adjusted" and seed % 4 == 2)
    variations = [random_adjusted_or_ratio(rng, kind, shape) for _ in range(3)]
    difference = "absolute" if seed % 8 >= 4 else "relative"
    mode = ("frequentist", "sequential", "bayesian", "bayesian with a prior")[seed // 8]
    body = {"variations": variations,
            "config": {"difference": difference, "sequential_tuning": 5000.0 if mode == "sequential" else None}}
    case = {"variations": variations, "difference": difference, "sequential": mode == "sequential",
            "weights": [0.5, 0.25, 0.25]}
    if mode.startswith("bayesian"):
        bayesian = {"difference": difference}
        if mode == "bayesian with a prior":
            bayesian["prior"] = {"mean": 0.0, "stddev": 0.3}
        body["bayesian"] = case["bayesian"] = bayesian
    silta = post(server, server.token, "/v1/experiments/pricing/analysis", body)
    reference = gbstats(case)
    if mode.startswith("bayesian"):
        for ours, expected in zip(silta["bayesian"], reference["results"], strict=True):
            assert_agrees(ours, expected, ["expected", "ci", "chance_to_win", "risk"])
    else:
        for ours, expected in zip(silta["results"], reference["results"], strict=True):
            assert_agrees(ours, expected, ["expected", "ci", "p_value"])
    assert silta["srm_p_value"] == pytest.approx(reference["srm"], abs=1e-6)
