#!/usr/bin/env bash
# Runs every benchmark under bench/ and prints its figures. Each one measures
# its own baseline in the same run, so the ratios hold on a noisy machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export BOKUJO_BIN_DIR=${BOKUJO_BIN_DIR:-$PWD/bin}
for dir in bench/*/; do
	name=$(basename "$dir")
	echo "==== bench/$name"
	go run "./bench/$name"
	echo
done
