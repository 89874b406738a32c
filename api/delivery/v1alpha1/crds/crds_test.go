package crds_test

import (
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"

	v1alpha1 "bokujo.io/bokujo/api/delivery/v1alpha1"
	"bokujo.io/bokujo/api/delivery/v1alpha1/crds"
)

func TestReleaseCRD(t *testing.T) {
	list, err := crds.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("%d CRDs, want 1 (Release)", len(list))
	}
	crd := list[0]
	if crd.Name != "releases."+v1alpha1.GroupName || crd.Spec.Names.Kind != "Release" {
		t.Fatalf("CRD %s kind %s", crd.Name, crd.Spec.Names.Kind)
	}
	if crd.Spec.Scope != apiextensionsv1.NamespaceScoped {
		t.Errorf("scope %s, want Namespaced", crd.Spec.Scope)
	}
	v := crd.Spec.Versions[0]
	if v.Subresources == nil || v.Subresources.Status == nil {
		t.Error("no status subresource")
	}
	if len(v.AdditionalPrinterColumns) < 4 {
		t.Errorf("%d printer columns", len(v.AdditionalPrinterColumns))
	}
	s := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{crd.Spec.Names.Kind, crd.Spec.Names.ListKind} {
		if _, ok := s.KnownTypes(v1alpha1.GroupVersion)[k]; !ok {
			t.Errorf("kind %s not registered", k)
		}
	}
}
