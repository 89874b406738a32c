package release

import (
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"bokujo.io/bokujo/api/delivery/v1alpha1/crds"
	"bokujo.io/bokujo/internal/fleet"
)

// Component is the Release controller for the fleet runner: the
// delivery.bokujo.io CRDs, the types, and Setup in every managed cluster,
// with the cluster's name on its metrics. notify, when set, gives the event
// sink of a cluster (chatops.Announcer.Notify announces to Slack).
func Component(opts Options, notify func(cluster string) func(Event)) fleet.Component {
	return fleet.Component{
		Name:        "release",
		CRDs:        crds.CRDs,
		AddToScheme: AddToScheme,
		Setup: func(mgr manager.Manager, cluster string) error {
			o := opts
			o.ClusterName = cluster
			if notify != nil {
				o.Notify = notify(cluster)
			}
			return Setup(mgr, o)
		},
	}
}
