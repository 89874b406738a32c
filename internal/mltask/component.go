package mltask

import (
	"sigs.k8s.io/controller-runtime/pkg/manager"

	mlv1alpha1 "bokujo.io/bokujo/api/ml/v1alpha1"
	"bokujo.io/bokujo/api/ml/v1alpha1/crds"
	"bokujo.io/bokujo/internal/fleet"
)

// Component is MLTask for the fleet runner: the ml.bokujo.io CRDs, the
// types, and Setup with opts in every managed cluster. The server lists
// it in its components (app.DefaultComponents).
func Component(opts Options) fleet.Component {
	return fleet.Component{
		Name:        "mltask",
		CRDs:        crds.CRDs,
		AddToScheme: mlv1alpha1.AddToScheme,
		Setup: func(mgr manager.Manager, _ string) error {
			return Setup(mgr, opts)
		},
	}
}
