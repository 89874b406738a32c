package clustertools

import (
	"strings"
	"testing"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
)

func TestObjectsAreLabelledAndOrdered(t *testing.T) {
	for tool := range Versions {
		objs, err := Objects(tool)
		if err != nil {
			t.Fatal(err)
		}
		if len(objs) < 5 || objs[0].GetKind() != "Namespace" {
			t.Fatalf("%s: %d objects, first %s; want the namespace first", tool, len(objs), objs[0].GetKind())
		}
		ns := objs[0].GetName()
		for _, o := range objs {
			if o.GetLabels()[ToolLabel] != string(tool) || o.GetLabels()["app.kubernetes.io/managed-by"] == "bokujo" {
				t.Errorf("%s %s labels %v", o.GetKind(), o.GetName(), o.GetLabels())
			}
			// Everything namespaced lives in the tool's own namespace, and
			// cluster-scoped names carry the tool's prefix: removal never
			// touches anything else.
			if o.GetNamespace() != "" && o.GetNamespace() != ns {
				t.Errorf("%s %s in namespace %s, want %s", o.GetKind(), o.GetName(), o.GetNamespace(), ns)
			}
			if o.GetNamespace() == "" && o.GetKind() != "Namespace" && !strings.HasPrefix(o.GetName(), ns+"-") {
				t.Errorf("cluster-scoped %s %s lacks the prefix %s-", o.GetKind(), o.GetName(), ns)
			}
		}
	}
	if _, err := Objects("tracing"); err == nil || !strings.Contains(err.Error(), "use monitoring or logging") {
		t.Errorf("unknown tool: %v", err)
	}
	if _, ok := Versions[mgmtv1.ToolMonitoring]; !ok {
		t.Error("monitoring has no version")
	}
}
