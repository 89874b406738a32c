package crds_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/api/management/v1alpha1/crds"
)

// wantKinds are the kinds of the management API and whether each has a
// status subresource.
var wantKinds = map[string]bool{
	"AuthProvider":               true,
	"Cluster":                    true,
	"ClusterRoleTemplateBinding": true,
	"GlobalRole":                 false,
	"GlobalRoleBinding":          false,
	"Group":                      false,
	"Notification":               true,
	"NotificationTarget":         true,
	"ClusterTool":                true,
	"Project":                    true,
	"ProjectRoleTemplateBinding": true,
	"RoleTemplate":               false,
	"Token":                      true,
	"User":                       true,
}

func TestCRDs(t *testing.T) {
	list, err := crds.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, crd := range list {
		kind := crd.Spec.Names.Kind
		if got[kind] {
			t.Errorf("kind %s defined twice", kind)
		}
		got[kind] = true
		t.Run(kind, func(t *testing.T) {
			if want := crd.Spec.Names.Plural + "." + v1alpha1.GroupName; crd.Name != want {
				t.Errorf("name = %q, want %q", crd.Name, want)
			}
			if crd.Spec.Group != v1alpha1.GroupName {
				t.Errorf("group = %q", crd.Spec.Group)
			}
			if crd.Spec.Scope != apiextensionsv1.ClusterScoped {
				t.Errorf("scope = %s, want Cluster", crd.Spec.Scope)
			}
			if !slices.Contains(crd.Spec.Names.Categories, "bokujo") {
				t.Errorf("categories %v lack bokujo", crd.Spec.Names.Categories)
			}
			if len(crd.Spec.Names.ShortNames) == 0 {
				t.Error("no short name")
			}
			if len(crd.Spec.Versions) != 1 {
				t.Fatalf("%d versions, want 1", len(crd.Spec.Versions))
			}
			v := crd.Spec.Versions[0]
			if v.Name != v1alpha1.GroupVersion.Version || !v.Served || !v.Storage {
				t.Errorf("version %s served=%t storage=%t", v.Name, v.Served, v.Storage)
			}
			if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				t.Fatal("no schema")
			}
			if _, ok := v.Schema.OpenAPIV3Schema.Properties["spec"]; !ok {
				t.Error("schema has no spec")
			}
			hasStatus := v.Subresources != nil && v.Subresources.Status != nil
			if want, ok := wantKinds[kind]; ok && hasStatus != want {
				t.Errorf("status subresource = %t, want %t", hasStatus, want)
			}
			if len(v.AdditionalPrinterColumns) == 0 {
				t.Error("no printer columns")
			}
		})
	}
	for kind := range wantKinds {
		if !got[kind] {
			t.Errorf("no CRD for kind %s", kind)
		}
	}
	for kind := range got {
		if _, ok := wantKinds[kind]; !ok {
			t.Errorf("unexpected CRD for kind %s", kind)
		}
	}
}

// TestSchemeMatchesCRDs catches a kind registered in the scheme without a
// CRD, or the reverse, when a type is added or removed.
func TestSchemeMatchesCRDs(t *testing.T) {
	s := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	pkg := reflect.TypeFor[v1alpha1.Cluster]().PkgPath()
	var registered []string
	for kind, typ := range s.KnownTypes(v1alpha1.GroupVersion) {
		if typ.PkgPath() == pkg && !strings.HasSuffix(kind, "List") {
			registered = append(registered, kind)
		}
	}
	list, err := crds.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	var defined []string
	for _, crd := range list {
		defined = append(defined, crd.Spec.Names.Kind)
		if _, ok := s.KnownTypes(v1alpha1.GroupVersion)[crd.Spec.Names.ListKind]; !ok {
			t.Errorf("list kind %s is not registered", crd.Spec.Names.ListKind)
		}
	}
	slices.Sort(registered)
	slices.Sort(defined)
	if !slices.Equal(registered, defined) {
		t.Errorf("registered kinds %v, CRD kinds %v", registered, defined)
	}
}
