#!/usr/bin/env bash
# Installs the system packages bokujo needs, only those missing, so a second
# run costs nothing. Go modules are fetched by `go build` itself.
set -euo pipefail
need=()
command -v go >/dev/null || { echo "Go is required (go 1.26+): install it first" >&2; exit 1; }
command -v npm >/dev/null || { echo "Node.js 20+ with npm is required to build the web UI: install it first" >&2; exit 1; }
# (Debian package, command it provides)
while read -r pkg cmd; do
	[[ -z "$pkg" ]] && continue
	command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
done <<'LIST'
chromium chromium
slapd slapd
prometheus prometheus
LIST
# Packages without a command, checked by name: a Japanese font, so the UI's
# Japanese pages render in the browser tests' screenshots.
for pkg in fonts-ipafont-gothic; do
	dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
	echo ">> installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	sudo=""; [[ $(id -u) -ne 0 ]] && sudo=sudo
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
