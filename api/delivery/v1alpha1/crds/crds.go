// Package crds holds the generated CustomResourceDefinitions of the
// delivery API (delivery.bokujo.io), embedded so that the server can
// install them in downstream clusters without files beside the binary.
package crds

import (
	"embed"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"bokujo.io/bokujo/api/crdfs"
)

//go:embed *.yaml
var manifests embed.FS

// CRDs parses the embedded manifests, one CRD per file, in file name order.
// Every call returns fresh objects the caller may modify.
func CRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) { return crdfs.Parse(manifests) }
