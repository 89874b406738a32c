package release

import (
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	releasesFinished = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bokujo_releases_finished_total",
		Help: "Releases that ended, by cluster, outcome (Promoted, RolledBack, Failed) and reason.",
	}, []string{"cluster", "outcome", "reason"})
	releasesStarted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bokujo_releases_started_total",
		Help: "Releases that started rolling out, by cluster.",
	}, []string{"cluster"})
	measurements = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bokujo_release_measurements_total",
		Help: "Canary analysis measurements, by cluster, measurement kind (pods or prometheus) and result.",
	}, []string{"cluster", "kind", "result"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(releasesFinished, releasesStarted, measurements)
}
