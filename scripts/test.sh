#!/usr/bin/env bash
# Installs what the tests need on a fresh machine, then runs every test: Rust unit and
# integration tests (including the kill -9 durability test) and the Python tests with the
# official Segment and RudderStack libraries and the deltalake reader, and the web console in
# Chromium and Firefox.
set -euo pipefail
cd "$(dirname "$0")/.."

# Builds are reused across runs from a cache outside the checkout.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/silta-target}"
export CARGO_TERM_COLOR=never

# openssl makes the certificates of the HTTPS tests; nats-server is the NATS destinations' peer;
# chromium (driven by playwright-core) and firefox-esr (by puppeteer-core over WebDriver BiDi)
# run the console's browser tests.
missing=()
command -v openssl >/dev/null || missing+=(openssl)
command -v nats-server >/dev/null || missing+=(nats-server)
command -v chromium >/dev/null || missing+=(chromium)
command -v firefox-esr >/dev/null || missing+=(firefox-esr)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${missing[@]}"
fi
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r tests/python/requirements.txt
(cd tests/node && npm install --no-audit --no-fund --loglevel=error)
# GrowthBook's stats engine pins numpy below 2, which the deltalake reader cannot use: it gets
# an environment of its own, which the experiment-analysis test calls.
export SILTA_GBSTATS_PYTHON="$HOME/.cache/silta-gbstats/bin/python"
[ -x "$SILTA_GBSTATS_PYTHON" ] || python3 -m venv "$HOME/.cache/silta-gbstats"
"$SILTA_GBSTATS_PYTHON" -m pip install --quiet --disable-pip-version-check gbstats==0.8.0

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo build --workspace --locked --bins
cargo test --workspace --locked

export TEST_SILTA_BIN="$CARGO_TARGET_DIR/debug/silta"
python3 -m pytest -q tests/python
(cd tests/node && node --test)
