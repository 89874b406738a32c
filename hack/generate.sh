#!/usr/bin/env bash
# Generates the deepcopy functions and CRD manifests of every API group
# version under api/<group>/<version>/ with the controller-gen pinned in
# hack/tools/go.mod. CRDs go to api/<group>/<version>/crds/, one file each.
set -euo pipefail
cd "$(dirname "$0")/.."

controller_gen() {
	go tool -modfile=hack/tools/go.mod controller-gen "$@"
}

found=0
for gv in api/*/*/; do
	gv=${gv%/}
	[[ -f $gv/groupversion_info.go ]] || continue
	found=1
	# Stale manifests of removed kinds would otherwise linger and be
	# embedded; the Go files in crds/ are hand-written and stay.
	rm -f "$gv"/crds/*.yaml
	controller_gen \
		object \
		crd \
		paths="./$gv" \
		output:crd:artifacts:config="$gv/crds"
done
if [[ $found == 0 ]]; then
	echo "generate: no api/<group>/<version>/groupversion_info.go found" >&2
	exit 1
fi
