#!/usr/bin/env bash
# Builds and tests the web UI in web/, doing only what changed:
#   hack/web.sh [build]   npm ci if the lock file or node_modules changed,
#                         then vite build if the UI's sources changed
#   hack/web.sh deps      only the npm ci step
#   hack/web.sh test      npm ci if needed, then the Vitest unit tests
# Stamps live in web/node_modules/.bokujo/, so they go when node_modules
# goes; web/dist stays free of them because all of it is embedded.
set -euo pipefail
cd "$(dirname "$0")/../web"

command -v npm >/dev/null || { echo "web: npm is required (Node.js 20.19+): install Node.js first" >&2; exit 1; }
stamps=node_modules/.bokujo

hash_files() { sha256sum "$@" | sha256sum | cut -d' ' -f1; }

deps() {
	local want have=""
	# node_modules/.package-lock.json is npm's record of what is installed:
	# it changes when anyone runs npm install by hand.
	want=$(hash_files package.json package-lock.json)
	if [[ -f $stamps/deps && -f node_modules/.package-lock.json ]]; then
		have=$(cat "$stamps/deps")
		[[ $have == "$want $(hash_files node_modules/.package-lock.json)" ]] && { echo ">> web: dependencies up to date"; return; }
	fi
	echo ">> web: npm ci (package-lock.json or node_modules changed)"
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p "$stamps"
	echo "$want $(hash_files node_modules/.package-lock.json)" >"$stamps/deps"
}

# sources_hash covers everything the bundle is made from; tests are left
# out, so changing one does not rebuild the UI.
sources_hash() {
	find src public index.html package.json package-lock.json tsconfig.json vite.config.ts -type f \
		! -name '*.test.ts' ! -name '*.test.tsx' ! -path 'src/test/*' -print0 |
		sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1
}

build() {
	deps
	local want
	want=$(sources_hash)
	if [[ -f dist/index.html && -f $stamps/build && $(cat "$stamps/build") == "$want" ]]; then
		echo ">> web: build up to date (web/dist)"
		return
	fi
	echo ">> web: building web/dist (sources changed)"
	rm -f "$stamps/build"
	npm run --silent build
	echo "$want" >"$stamps/build"
	# The initial route is what index.html loads: its scripts, preloaded
	# chunks and stylesheets (their .gz sidecars, as served).
	local gz=0 f
	for f in $(grep -oE '/assets/[^"]+\.(js|css)' dist/index.html | sort -u); do
		if [[ -f "dist${f}.gz" ]]; then
			gz=$((gz + $(wc -c <"dist${f}.gz")))
		else # small files get no sidecar; measure them as gzip would send them
			gz=$((gz + $(gzip -9 -c "dist${f}" | wc -c)))
		fi
	done
	echo ">> web: initial route is $((gz / 1024)) KiB gzip (everything index.html loads)"
}

case "${1:-build}" in
build) build ;;
deps) deps ;;
test)
	deps
	echo ">> web: vitest"
	npx --no-install vitest run
	;;
*)
	echo "usage: hack/web.sh [build|deps|test]" >&2
	exit 2
	;;
esac
