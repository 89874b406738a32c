#!/usr/bin/env bash
# Builds the real control-plane binaries bokujo runs (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl, kwok, helm) from the Go
# module proxy into one folder. Pinned by the go.mod files under hack/.
# A second run with nothing changed only compares stamps and returns at once.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${BIN_DIR:-$PWD/bin}
mkdir -p "$out"

k8s_version=$(cd hack/k8s && go list -m -f '{{.Version}}' k8s.io/kubernetes)
minor=${k8s_version#v1.}; minor=${minor%%.*}

# build NAME MODULE_DIR PACKAGE [LDFLAGS]: skips when the stamp (module files +
# flags + go version) matches the one recorded beside the binary.
build() {
	local name=$1 dir=$2 pkg=$3 ldflags=${4:-}
	local stamp
	stamp=$(cat "$dir/go.mod" "$dir/go.sum" "$dir"/*.go 2>/dev/null | sha256sum | cut -c1-16)-$(go env GOVERSION)-$(printf %s "$ldflags" | sha256sum | cut -c1-8)
	if [[ -x "$out/$name" && "$(cat "$out/.$name.stamp" 2>/dev/null)" == "$stamp" ]]; then
		return 0
	fi
	echo ">> building $name ($pkg)"
	local start=$SECONDS
	(cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $ldflags" -o "$out/$name.tmp" "$pkg")
	mv "$out/$name.tmp" "$out/$name"
	echo "$stamp" >"$out/.$name.stamp"
	echo "   $name built in $((SECONDS - start))s"
}

kver="-X k8s.io/component-base/version.gitVersion=$k8s_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
kver="$kver -X k8s.io/client-go/pkg/version.gitVersion=$k8s_version -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"

build etcd hack/etcd .
build kube-apiserver hack/k8s k8s.io/kubernetes/cmd/kube-apiserver "$kver"
build kube-controller-manager hack/k8s k8s.io/kubernetes/cmd/kube-controller-manager "$kver"
build kube-scheduler hack/k8s k8s.io/kubernetes/cmd/kube-scheduler "$kver"
build kubectl hack/k8s k8s.io/kubernetes/cmd/kubectl "$kver"
kwok_version=$(cd hack/kwok && go list -m -f '{{.Version}}' sigs.k8s.io/kwok)
build kwok hack/kwok sigs.k8s.io/kwok/cmd/kwok "-X sigs.k8s.io/kwok/pkg/consts.Version=$kwok_version"
helm_version=$(cd hack/helm && go list -m -f '{{.Version}}' helm.sh/helm/v4)
build helm hack/helm helm.sh/helm/v4/cmd/helm "-X helm.sh/helm/v4/internal/version.version=$helm_version"

# kwok's stage definitions ship inside its module; local clusters load them.
kwok_dir=$(cd hack/kwok && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
stages_stamp="$kwok_version"
if [[ "$(cat "$out/kwok-stages/.stamp" 2>/dev/null)" != "$stages_stamp" ]]; then
	rm -rf "$out/kwok-stages"
	for set in node/fast node/heartbeat-with-lease pod/fast pod/general pod/chaos node/chaos; do
		mkdir -p "$out/kwok-stages/$set"
		cp "$kwok_dir/kustomize/stage/$set"/*.yaml "$out/kwok-stages/$set/"
		chmod 0644 "$out/kwok-stages/$set"/*.yaml
	done
	echo "$stages_stamp" >"$out/kwok-stages/.stamp"
fi
echo ">> control-plane binaries ready in $out"
