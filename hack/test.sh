#!/usr/bin/env bash
# Runs every Go test (unit tests with -race, integration tests against real
# local control planes) and prints the slowest tests at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${TEST_OUTPUT_DIR:-_output/test}
mkdir -p "$out"
export BOKUJO_BIN_DIR=${BOKUJO_BIN_DIR:-$PWD/bin}
start=$SECONDS
set +e
go test -race -count=1 -timeout 30m -json "$@" ./... >"$out/go-test.json"
rc=$?
set -e
go run ./hack/testreport <"$out/go-test.json" || true
echo "go test finished in $((SECONDS - start))s (exit $rc)"
exit $rc
