#!/usr/bin/env bash
# Fails when the generated files under api/ (deepcopy functions, CRD
# manifests) differ from what hack/generate.sh makes of the types, or when
# generated files are not tracked by git.
set -euo pipefail
cd "$(dirname "$0")/.."

before=$(mktemp -d)
trap 'rm -rf "$before"' EXIT
cp -a api "$before/api"

hack/generate.sh

status=0
if ! diff -ru "$before/api" api; then
	echo >&2
	echo "verify-generate: the generated files above were out of date and have now been regenerated; run make generate and commit the result" >&2
	status=1
fi
untracked=$(git ls-files --others --exclude-standard -- api/)
if [[ -n $untracked ]]; then
	echo "$untracked" >&2
	echo "verify-generate: the files above under api/ are not tracked by git; run make generate and git add them" >&2
	status=1
fi
exit $status
