package rbacsync

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
)

// downstreamEvents turns changes of bokujo's objects in one downstream
// cluster into requests for the reconciler that owns them, so that an edit
// or a deletion by anyone else is undone within moments. Objects no source
// claims are sent to the orphan sweep.
type downstreamEvents struct {
	cluster string
	mgmt    client.Reader
	hub     *hub
}

func (e *downstreamEvents) handlers() map[client.Object]toolscache.ResourceEventHandler {
	return map[client.Object]toolscache.ResourceEventHandler{
		&rbacv1.ClusterRole{}:        e.funcs(e.clusterRole),
		&rbacv1.ClusterRoleBinding{}: e.funcs(e.clusterRoleBinding),
		&rbacv1.RoleBinding{}:        e.funcs(e.roleBinding),
		&corev1.ResourceQuota{}:      e.funcs(e.projectObject),
		&corev1.LimitRange{}:         e.funcs(e.projectObject),
		&corev1.Namespace{}:          e.funcs(e.namespace),
	}
}

// funcs calls fn with every object an event is about: both versions of an
// update, since a changed label moves a namespace between projects.
func (e *downstreamEvents) funcs(fn func(client.Object)) toolscache.ResourceEventHandler {
	call := func(obj any) {
		if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		if o, ok := obj.(client.Object); ok {
			fn(o)
		}
	}
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { call(obj) },
		UpdateFunc: func(oldObj, newObj any) { call(oldObj); call(newObj) },
		DeleteFunc: func(obj any) { call(obj) },
	}
}

func (e *downstreamEvents) orphan() { e.hub.addName(queueOrphans, e.cluster) }

// exists reports whether a management object is in the cache; on a read
// error it says yes, leaving the decision to the periodic sweep.
func (e *downstreamEvents) exists(obj client.Object, name string) bool {
	err := e.mgmt.Get(context.Background(), client.ObjectKey{Name: name}, obj)
	return client.IgnoreNotFound(err) != nil || err == nil
}

func (e *downstreamEvents) clusterRole(o client.Object) {
	template, ok := strings.CutPrefix(o.GetName(), ClusterRolePrefix)
	if !ok {
		e.orphan()
		return
	}
	// The ClusterRole controller decides whether the template is in use
	// here, and deletes the role when it is not.
	e.hub.add(queueClusterRole, roleKey(e.cluster, template))
}

func (e *downstreamEvents) clusterRoleBinding(o client.Object) {
	name, ok := strings.CutPrefix(o.GetName(), ClusterRoleBindingPrefix)
	if !ok {
		e.orphan()
		return
	}
	b := &v1alpha1.ClusterRoleTemplateBinding{}
	if !e.exists(b, name) || (b.Name != "" && b.Spec.ClusterName != e.cluster) {
		e.orphan()
		return
	}
	e.hub.addName(queueCRTB, name)
}

func (e *downstreamEvents) roleBinding(o client.Object) {
	name, ok := strings.CutPrefix(o.GetName(), RoleBindingPrefix)
	if !ok {
		e.orphan()
		return
	}
	if !e.exists(&v1alpha1.ProjectRoleTemplateBinding{}, name) {
		e.orphan()
		return
	}
	e.hub.addName(queuePRTB, name)
}

func (e *downstreamEvents) projectObject(o client.Object) {
	project := o.GetLabels()[LabelProject]
	if project == "" || o.GetName() != ProjectObjectName || !e.exists(&v1alpha1.Project{}, project) {
		e.orphan()
		return
	}
	e.hub.addName(queueProject, project)
}

// namespace requeues the projects a namespace belongs to or is listed by,
// and their bindings, whose RoleBindings follow the namespaces.
func (e *downstreamEvents) namespace(o client.Object) {
	projects := map[string]bool{}
	if p := o.GetLabels()[LabelProject]; p != "" {
		projects[p] = true
	}
	listing := &v1alpha1.ProjectList{}
	if err := e.mgmt.List(context.Background(), listing, client.MatchingFields{indexNamespace: e.cluster + "/" + o.GetName()}); err == nil {
		for _, p := range listing.Items {
			projects[p.Name] = true
		}
	}
	for p := range projects {
		e.hub.addName(queueProject, p)
		prtbs := &v1alpha1.ProjectRoleTemplateBindingList{}
		if err := e.mgmt.List(context.Background(), prtbs, client.MatchingFields{indexProject: p}); err != nil {
			continue
		}
		for _, b := range prtbs.Items {
			e.hub.addName(queuePRTB, b.Name)
		}
	}
}
