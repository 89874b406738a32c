package crdinstall

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset/fake"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"
)

func testCRD(name string) *apiextensionsv1.CustomResourceDefinition {
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "example.bokujo.io",
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: strings.Split(name, ".")[0], Kind: "Widget"},
			Scope: apiextensionsv1.ClusterScoped,
		},
		Status: apiextensionsv1.CustomResourceDefinitionStatus{StoredVersions: []string{"v1"}},
	}
}

// withConditions makes every Get of a CRD report conds, as the API server's
// controllers would.
func withConditions(client *fake.Clientset, conds ...apiextensionsv1.CustomResourceDefinitionCondition) {
	client.PrependReactor("get", "customresourcedefinitions", func(a clienttesting.Action) (bool, runtime.Object, error) {
		obj, err := client.Tracker().Get(a.GetResource(), "", a.(clienttesting.GetAction).GetName())
		if err != nil {
			return true, nil, err
		}
		crd := obj.(*apiextensionsv1.CustomResourceDefinition).DeepCopy()
		crd.Status.Conditions = conds
		return true, crd, nil
	})
}

func TestApplyBodyOmitsServerFields(t *testing.T) {
	crd := testCRD("widgets.example.bokujo.io")
	crd.ResourceVersion = "42"
	body, err := applyBody(crd)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["status"]; ok {
		t.Errorf("apply body has status: %s", body)
	}
	meta := m["metadata"].(map[string]any)
	for _, k := range []string{"creationTimestamp", "resourceVersion"} {
		if _, ok := meta[k]; ok {
			t.Errorf("apply body has metadata.%s: %s", k, body)
		}
	}
	if m["apiVersion"] != "apiextensions.k8s.io/v1" || m["kind"] != "CustomResourceDefinition" {
		t.Errorf("apply body lacks type meta: %s", body)
	}
	if crd.ResourceVersion != "42" {
		t.Error("applyBody modified its argument")
	}
}

func TestInstall(t *testing.T) {
	established := apiextensionsv1.CustomResourceDefinitionCondition{Type: apiextensionsv1.Established, Status: apiextensionsv1.ConditionTrue}
	tests := []struct {
		name    string
		conds   []apiextensionsv1.CustomResourceDefinitionCondition
		wantErr string // substring; empty means success
	}{
		{name: "established", conds: []apiextensionsv1.CustomResourceDefinitionCondition{established}},
		{
			name:    "never established",
			conds:   []apiextensionsv1.CustomResourceDefinitionCondition{{Type: apiextensionsv1.Established, Status: apiextensionsv1.ConditionFalse, Reason: "Installing", Message: "still installing"}},
			wantErr: "CRD widgets.example.bokujo.io not established: context deadline exceeded (last seen: Established=False: Installing: still installing)",
		},
		{
			name: "names refused",
			conds: []apiextensionsv1.CustomResourceDefinitionCondition{
				{Type: apiextensionsv1.NamesAccepted, Status: apiextensionsv1.ConditionFalse, Reason: "KindConflict", Message: "Widget is already in use"},
			},
			wantErr: "CRD widgets.example.bokujo.io not established: names not accepted: KindConflict: Widget is already in use",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset()
			withConditions(client, tc.conds...)
			crds := []*apiextensionsv1.CustomResourceDefinition{testCRD("widgets.example.bokujo.io")}
			for range 2 { // the second run must behave the same: idempotent
				err := install(context.Background(), client, crds, 500*time.Millisecond)
				switch {
				case tc.wantErr == "" && err != nil:
					t.Fatalf("install: %v", err)
				case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
					t.Fatalf("install error = %v, want it to contain %q", err, tc.wantErr)
				}
			}
			list, err := client.ApiextensionsV1().CustomResourceDefinitions().List(context.Background(), metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(list.Items) != 1 || list.Items[0].Name != "widgets.example.bokujo.io" {
				t.Fatalf("CRDs after install: %v", list.Items)
			}
		})
	}
}
