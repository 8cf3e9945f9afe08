#!/usr/bin/env bash
# Runs the official Bitrix24 JS SDK (pinned below), unmodified, against
# b24fake: check.mjs exercises webhook and OAuth clients. The package is
# installed in a temporary directory, never in the repository.
set -euo pipefail
cd "$(dirname "$0")/../.."
version=2.2.0

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "node/npm not found: installing them"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }; then
    echo "SKIPPED: the JS SDK check needs node and npm, and they could not be installed"
    exit 0
  fi
fi
echo "node $(node --version), npm $(npm --version), @bitrix24/b24jssdk $version"

work=$(mktemp -d)
fake_pid=""
cleanup() {
  if [ -n "$fake_pid" ]; then kill "$fake_pid" 2>/dev/null || true; wait "$fake_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

(cd "$work" && npm init -y >/dev/null && npm install --no-audit --no-fund --loglevel=error "@bitrix24/b24jssdk@$version" >/dev/null)
cp .ci/jssdk/check.mjs "$work/"
go build -o "$work/b24fake" ./cmd/b24fake

port=""
for p in $(seq 18024 18124); do
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || { echo "no free loopback port for b24fake"; exit 1; }

ttl_ms=2000
"$work/b24fake" -addr "127.0.0.1:$port" -tls -tls-cert "$work/cert.pem" -print-oauth \
  -token-ttl "${ttl_ms}ms" -latency 20ms -run-for 5m >"$work/fake.out" 2>"$work/fake.err" &
fake_pid=$!
for _ in $(seq 1 100); do grep -q '^oauth refresh token:' "$work/fake.out" 2>/dev/null && break; sleep 0.1; done
get() { sed -n "s/^$1: //p" "$work/fake.out"; }
webhook=$(get webhook)
secret=$(basename "$webhook")

B24_URL="https://127.0.0.1:$port" B24_SECRET="$secret" \
  B24_ACCESS="$(get 'oauth access token')" B24_REFRESH="$(get 'oauth refresh token')" \
  B24_CLIENT_ID="$(get 'oauth client id')" B24_CLIENT_SECRET="$(get 'oauth client secret')" \
  B24_TOKEN_TTL_MS="$ttl_ms" NODE_EXTRA_CA_CERTS="$work/cert.pem" \
  node "$work/check.mjs"
