// Package clustertools installs the tools bokujo bundles (monitoring,
// logging) into managed clusters, as ClusterTool objects ask, keeps them as
// bundled and reports their health.
//
// The tools are fixed manifests that ship with the binary, applied with
// server-side apply as bokujo's management identity: no chart repository
// or templating is needed for objects bokujo itself versions, and
// server-side apply repairs drift field by field on every pass. Objects
// carry labels naming the tool, and removal deletes exactly the objects
// the tool's manifest names.
package clustertools

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
)

//go:embed manifests/*.yaml
var manifests embed.FS

const (
	// ToolLabel names the tool an object belongs to.
	ToolLabel = "tools.bokujo.io/tool"
	// FieldManager is the server-side apply manager of the tools' fields.
	FieldManager = "bokujo-cluster-tools"
)

// Versions are the bundled versions, shown in ClusterTool status.
var Versions = map[mgmtv1.ClusterToolName]string{
	mgmtv1.ToolMonitoring: "prometheus-3.5.0",
	mgmtv1.ToolLogging:    "fluent-bit-4.0.3",
}

// Objects returns the objects of a tool, labelled as the tool's, in the
// order they are applied (namespaces and accounts before what uses them).
func Objects(tool mgmtv1.ClusterToolName) ([]*unstructured.Unstructured, error) {
	if _, ok := Versions[tool]; !ok {
		return nil, fmt.Errorf("unknown tool %q: use monitoring or logging", tool)
	}
	data, err := manifests.ReadFile("manifests/" + string(tool) + ".yaml")
	if err != nil {
		return nil, err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("tool %s: %w", tool, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		labels := u.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[ToolLabel] = string(tool)
		// Not "bokujo": RBAC sync owns (and prunes) RBAC objects managed by
		// "bokujo".
		labels["app.kubernetes.io/managed-by"] = FieldManager
		labels["app.kubernetes.io/part-of"] = "bokujo"
		u.SetLabels(labels)
		out = append(out, u)
	}
	return out, nil
}
