// Package version holds bokujo's own version and the versions of the
// Kubernetes components it bundles, set at build time with -ldflags -X.
package version

import (
	"fmt"
	"runtime"
)

var (
	// Version is bokujo's release, e.g. v0.1.0; "dev" for a local build.
	Version = "dev"
	// Commit is the git commit the binary was built from.
	Commit = "unknown"
	// KubernetesVersion is the version of the bundled control plane
	// (kube-apiserver, controller-manager, scheduler, kubectl).
	KubernetesVersion = "v1.37.2"
	// EtcdVersion and KwokVersion are the other bundled components.
	EtcdVersion = "v3.7.3"
	KwokVersion = "v0.8.0"
)

// Info is the JSON shape served at /version and printed by `bokujo version`.
type Info struct {
	Version           string `json:"version"`
	Commit            string `json:"commit"`
	KubernetesVersion string `json:"kubernetesVersion"`
	EtcdVersion       string `json:"etcdVersion"`
	KwokVersion       string `json:"kwokVersion"`
	GoVersion         string `json:"goVersion"`
	Platform          string `json:"platform"`
}

// Get returns the build's version information.
func Get() Info {
	return Info{
		Version:           Version,
		Commit:            Commit,
		KubernetesVersion: KubernetesVersion,
		EtcdVersion:       EtcdVersion,
		KwokVersion:       KwokVersion,
		GoVersion:         runtime.Version(),
		Platform:          runtime.GOOS + "/" + runtime.GOARCH,
	}
}

// String is the one-line human form.
func (i Info) String() string {
	return fmt.Sprintf("bokujo %s (commit %s, %s, %s)\nbundles: kubernetes %s, etcd %s, kwok %s",
		i.Version, i.Commit, i.GoVersion, i.Platform, i.KubernetesVersion, i.EtcdVersion, i.KwokVersion)
}
