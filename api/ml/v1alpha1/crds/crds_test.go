package crds_test

import (
	"slices"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"

	v1alpha1 "bokujo.io/bokujo/api/ml/v1alpha1"
	"bokujo.io/bokujo/api/ml/v1alpha1/crds"
)

// wantScope is every kind of the ml API and its scope.
var wantScope = map[string]apiextensionsv1.ResourceScope{
	"MLTask":     apiextensionsv1.NamespaceScoped,
	"GPUQueue":   apiextensionsv1.ClusterScoped,
	"LocalQueue": apiextensionsv1.NamespaceScoped,
}

func TestCRDs(t *testing.T) {
	list, err := crds.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	s := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, crd := range list {
		kind := crd.Spec.Names.Kind
		got[kind] = true
		if want, ok := wantScope[kind]; !ok || crd.Spec.Scope != want {
			t.Errorf("%s: scope %s, want %s", kind, crd.Spec.Scope, want)
		}
		if crd.Spec.Group != v1alpha1.GroupName || crd.Name != crd.Spec.Names.Plural+"."+v1alpha1.GroupName {
			t.Errorf("%s: group %s name %s", kind, crd.Spec.Group, crd.Name)
		}
		if !slices.Contains(crd.Spec.Names.Categories, "bokujo") || len(crd.Spec.Names.ShortNames) == 0 {
			t.Errorf("%s: categories %v short names %v", kind, crd.Spec.Names.Categories, crd.Spec.Names.ShortNames)
		}
		v := crd.Spec.Versions[0]
		if v.Subresources == nil || v.Subresources.Status == nil || len(v.AdditionalPrinterColumns) == 0 {
			t.Errorf("%s: no status subresource or printer columns", kind)
		}
		if _, ok := s.KnownTypes(v1alpha1.GroupVersion)[kind]; !ok {
			t.Errorf("%s: not in the scheme", kind)
		}
		if _, ok := s.KnownTypes(v1alpha1.GroupVersion)[crd.Spec.Names.ListKind]; !ok {
			t.Errorf("%s: not in the scheme", crd.Spec.Names.ListKind)
		}
	}
	for kind := range wantScope {
		if !got[kind] {
			t.Errorf("no CRD for %s", kind)
		}
	}
}

// TestMLTaskColumns pins the printer columns the issue asks for.
func TestMLTaskColumns(t *testing.T) {
	list, err := crds.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	for _, crd := range list {
		if crd.Spec.Names.Kind != "MLTask" {
			continue
		}
		var names []string
		for _, c := range crd.Spec.Versions[0].AdditionalPrinterColumns {
			names = append(names, c.Name)
		}
		want := []string{"Phase", "Ready", "Workers", "GPUs", "Queue", "Position", "Age"}
		if !slices.Equal(names, want) {
			t.Errorf("columns %v, want %v", names, want)
		}
	}
}
