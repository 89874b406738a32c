package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group of the machine-learning API.
const GroupName = "ml.bokujo.io"

// GroupVersion is the group and version of these types.
var GroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha1"}

var (
	// SchemeBuilder registers the types with a runtime.Scheme. It is built
	// on apimachinery alone so that the CLI can use the types without a
	// controller framework.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds the types of this group version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// Resource returns a GroupResource of this group for an unqualified
// resource name, as API errors want it.
func Resource(resource string) schema.GroupResource {
	return GroupVersion.WithResource(resource).GroupResource()
}

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(GroupVersion,
		&MLTask{}, &MLTaskList{},
		&GPUQueue{}, &GPUQueueList{},
		&LocalQueue{}, &LocalQueueList{},
	)
	metav1.AddToGroupVersion(scheme, GroupVersion)
	return nil
}
