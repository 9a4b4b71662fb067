#!/usr/bin/env python
"""Fit PyMC-Marketing's MMM on a weekly CSV and print one JSON object on stdout.

Peer implementation for benchmarking a Rust media-mix model against
PyMC-Marketing. The model is the library's recommended
``pymc_marketing.mmm.multidimensional.MMM`` (the classic
``pymc_marketing.mmm.MMM`` is deprecated in 0.19 and slated for removal in 0.20),
configured like the library's example notebooks:
``GeometricAdstock(l_max=8)``, ``LogisticSaturation()`` with default priors,
``yearly_seasonality=2``, controls as ``control_columns``, and the library's
default max-abs scaling of target and channels (controls are left unscaled, as
the library does).

Input CSV: ``date,<channels...>,<controls...>,revenue`` with weekly ISO dates
(Monday) and channel spend in EUR per week.

Usage::

    python pymc_marketing_mmm.py data.csv --channels a,b,c --controls x,y \
        [--holdout N] [--chains 4 --tune 1000 --draws 1000 --seed 42] \
        [--sampler nutpie|pymc]

Output (stdout, single line of JSON)::

    {"version", "sampler", "fit_seconds", "roi", "roi_lower", "roi_upper",
     "divergences", "max_r_hat", "min_ess"}

ROI of a channel, per posterior draw, is the sum over the fitted weeks of the
channel's contribution in original revenue units divided by the channel's
spend summed over the same weeks; reported as posterior mean and 5%/95%
quantiles. ``min_ess`` is the minimum bulk ESS and ``max_r_hat`` the maximum
rank-normalised R-hat over all free (sampled) parameters.

Everything other than the final JSON (warnings, sampler/compiler chatter,
sanity checks) goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time


def _split_list(s: str | None) -> list[str]:
    if s is None:
        return []
    return [c.strip() for c in s.split(",") if c.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("csv", help="weekly input CSV")
    p.add_argument("--channels", required=True, help="comma-separated channel columns")
    p.add_argument("--controls", default="", help="comma-separated control columns (may be empty)")
    p.add_argument("--holdout", type=int, default=0, help="last N rows are not fitted")
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--tune", type=int, default=1000)
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--sampler", choices=("nutpie", "pymc"), default="nutpie")
    return p.parse_args(argv)


def _finite_or_none(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _drop_singleton_dims(da, keep):
    for d in list(da.dims):
        if d not in keep:
            if da.sizes[d] != 1:
                raise RuntimeError(f"unexpected non-singleton dim {d!r} in {da.name!r}")
            da = da.isel({d: 0}, drop=True)
    return da


def run(args: argparse.Namespace) -> dict:
    import warnings

    import numpy as np
    import pandas as pd

    # Route all Python warnings to stderr (default) but keep them visible.
    warnings.simplefilter("default")

    import arviz as az
    import pymc_marketing
    from pymc_marketing.mmm import GeometricAdstock, LogisticSaturation
    from pymc_marketing.mmm.multidimensional import MMM

    channels = _split_list(args.channels)
    controls = _split_list(args.controls)
    if not channels:
        raise SystemExit("--channels must name at least one column")

    df = pd.read_csv(args.csv)
    missing = [c for c in ["date", *channels, *controls, "revenue"] if c not in df.columns]
    if missing:
        raise SystemExit(f"columns missing from {args.csv}: {missing}")
    df["date"] = pd.to_datetime(df["date"])
    df = df.sort_values("date").reset_index(drop=True)

    if args.holdout < 0 or args.holdout >= len(df):
        raise SystemExit(f"--holdout must be in [0, {len(df) - 1}]")
    fit_df = df.iloc[: len(df) - args.holdout] if args.holdout else df

    X = fit_df[["date", *channels, *controls]]
    y = fit_df["revenue"]

    mmm = MMM(
        date_column="date",
        target_column="revenue",
        channel_columns=channels,
        control_columns=controls or None,
        adstock=GeometricAdstock(l_max=8),
        saturation=LogisticSaturation(),
        yearly_seasonality=2,
    )

    extra_kwargs = {}
    if args.sampler == "pymc":
        # pm.sample's default `cores` assumes half of the CPUs are hyper-threads
        # (multiprocessing.cpu_count() // 2), i.e. 1 process on a 2-vCPU box,
        # whereas nutpie runs min(chains, os.cpu_count()) threads. Give the PyMC
        # sampler the same parallelism so the two back ends are comparable.
        extra_kwargs["cores"] = min(args.chains, os.cpu_count() or 1)

    t0 = time.perf_counter()
    mmm.fit(
        X,
        y,
        chains=args.chains,
        tune=args.tune,
        draws=args.draws,
        random_seed=args.seed,
        nuts_sampler=args.sampler,
        progressbar=False,
        **extra_kwargs,
    )
    fit_seconds = time.perf_counter() - t0

    idata = mmm.idata

    # --- Contributions in original revenue units, via the library's wrapper ---
    data = mmm.data
    contrib = data.get_channel_contributions(original_scale=True)  # (chain, draw, date, channel)
    # In 0.19.2 the stored target_scale comes back as a length-1 array with a
    # dummy dim ("target_scale_dim_0"), which the product inherits; drop it.
    contrib = _drop_singleton_dims(contrib, keep=("chain", "draw", "date", "channel"))
    spend = data.get_channel_spend()  # (date, channel), EUR as given

    # Guard: the spend the library holds must be the raw CSV spend of the fitted weeks.
    csv_spend = fit_df[channels].to_numpy(dtype=float).sum(axis=0)
    lib_spend = spend.sum("date").sel(channel=channels).to_numpy()
    if not np.allclose(csv_spend, lib_spend, rtol=1e-9, atol=1e-6):
        raise RuntimeError(f"channel spend mismatch: csv={csv_spend} library={lib_spend}")

    total_contrib = contrib.sum("date")  # (chain, draw, channel)
    total_spend = spend.sum("date")  # (channel,)
    roi_draws = total_contrib / total_spend.where(total_spend != 0)

    roi_mean = roi_draws.mean(("chain", "draw"))
    roi_q = roi_draws.quantile([0.05, 0.95], dim=("chain", "draw"))

    # --- Unit sanity check: all components should add up to mean revenue ---
    comps = data.get_contributions(original_scale=True)
    parts = {}
    for name, da in comps.data_vars.items():
        da = _drop_singleton_dims(da, keep=("chain", "draw", "date", "channel", "control"))
        extra = [d for d in da.dims if d not in ("chain", "draw", "date")]
        s = da.sum(extra) if extra else da
        if "date" not in s.dims:  # constant intercept: broadcast over weeks
            s = s.expand_dims(date=contrib["date"])
        parts[name] = float(s.mean(("chain", "draw", "date")))
    total_mean = sum(parts.values())
    rev_mean = float(y.mean())
    print(
        "[check] mean weekly components (original scale): "
        + ", ".join(f"{k}={v:,.0f}" for k, v in parts.items())
        + f"; sum={total_mean:,.0f} vs mean revenue={rev_mean:,.0f}"
        + f" (ratio {total_mean / rev_mean:.4f})",
        file=sys.stderr,
    )
    if abs(total_mean / rev_mean - 1) > 0.05:
        print("[check] WARNING: components do not add up to mean revenue within 5%", file=sys.stderr)
    media_share = parts.get("channels", float("nan")) / rev_mean
    print(f"[check] media share of fitted revenue: {media_share:.3f}", file=sys.stderr)

    # --- Sampler diagnostics over the free (sampled) parameters ---
    free = [rv.name for rv in mmm.model.free_RVs]
    post = idata.posterior[free]
    divergences = int(idata.sample_stats["diverging"].sum())
    rhat = az.rhat(post)
    ess = az.ess(post, method="bulk")
    max_r_hat = max(float(rhat[v].max()) for v in free)
    min_ess = min(float(ess[v].min()) for v in free)

    return {
        "version": pymc_marketing.__version__,
        "sampler": args.sampler,
        "fit_seconds": round(fit_seconds, 3),
        "roi": {c: _finite_or_none(roi_mean.sel(channel=c)) for c in channels},
        "roi_lower": {c: _finite_or_none(roi_q.sel(quantile=0.05, channel=c)) for c in channels},
        "roi_upper": {c: _finite_or_none(roi_q.sel(quantile=0.95, channel=c)) for c in channels},
        "divergences": divergences,
        "max_r_hat": _finite_or_none(max_r_hat),
        "min_ess": _finite_or_none(min_ess),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Everything written to fd 1 while fitting (Python prints, C/numba/rust chatter)
    # is redirected to stderr, so stdout carries exactly one JSON object.
    sys.stdout.flush()
    real_stdout_fd = os.dup(1)
    os.dup2(2, 1)
    try:
        result = run(args)
    finally:
        sys.stdout.flush()
        os.dup2(real_stdout_fd, 1)
        os.close(real_stdout_fd)
    sys.stdout.write(json.dumps(result, allow_nan=False) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
