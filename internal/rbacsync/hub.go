package rbacsync

import (
	"context"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// queueName names the controllers that downstream events are routed to.
type queueName string

const (
	queueClusterRole queueName = "clusterrole"
	queueCRTB        queueName = "crtb"
	queuePRTB        queueName = "prtb"
	queueProject     queueName = "project"
	queueOrphans     queueName = "orphans"
)

// hub hands requests from places controller-runtime does not watch (the
// per-cluster informers, started and stopped at run time) to the
// controllers' work queues. Each controller registers its queue when it
// starts, through the source from hub.source.
type hub struct {
	mu     sync.Mutex
	queues map[queueName]workqueue.TypedRateLimitingInterface[reconcile.Request]
	// pending keeps requests for controllers that have not started yet:
	// controllers start in no fixed order, and the ClusterRole and orphan
	// controllers have no initial list of their own to fall back on.
	pending map[queueName]map[reconcile.Request]struct{}
}

func newHub() *hub {
	return &hub{
		queues:  map[queueName]workqueue.TypedRateLimitingInterface[reconcile.Request]{},
		pending: map[queueName]map[reconcile.Request]struct{}{},
	}
}

// source is a controller source that registers the controller's queue.
func (h *hub) source(name queueName) source.Source {
	return source.Func(func(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.queues[name] = q
		for req := range h.pending[name] {
			q.Add(req)
		}
		delete(h.pending, name)
		return nil
	})
}

// add queues a request, or keeps it until the controller starts.
func (h *hub) add(name queueName, req reconcile.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if q := h.queues[name]; q != nil {
		q.Add(req)
		return
	}
	if h.pending[name] == nil {
		h.pending[name] = map[reconcile.Request]struct{}{}
	}
	h.pending[name][req] = struct{}{}
}

// addName queues a request for a cluster-scoped object.
func (h *hub) addName(name queueName, object string) {
	h.add(name, reconcile.Request{NamespacedName: types.NamespacedName{Name: object}})
}

// roleKey is the request of the ClusterRole controller: the cluster in the
// namespace field (management objects are cluster-scoped, so the field is
// free) and the template in the name.
func roleKey(cluster, template string) reconcile.Request {
	return reconcile.Request{NamespacedName: types.NamespacedName{Namespace: cluster, Name: template}}
}
