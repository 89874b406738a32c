// Package notify tells people when they gain access: a Notification per
// user and binding (of the user or of one of their groups) once the
// cluster or project it names exists, shown in the in-app feed, and sent
// to every enabled NotificationTarget (a Slack incoming webhook or any
// HTTPS webhook) with the link to their kubeconfig.
package notify

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
)

// fieldManager names bokujo's writes of notifications.
const fieldManager = "bokujo-notify"

// Options configure the notification controllers.
type Options struct {
	// PublicURL is where users reach bokujo; messages link to the
	// kubeconfig there.
	PublicURL *url.URL
	Logger    *slog.Logger
}

// Setup registers the controller that writes notifications and the one
// that delivers them.
func Setup(mgr ctrl.Manager, opts Options) error {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.PublicURL == nil {
		return fmt.Errorf("notify: no public URL")
	}
	w := &writer{c: mgr.GetClient(), log: opts.Logger}
	err := ctrl.NewControllerManagedBy(mgr).
		Named("notify-access").
		For(&mgmtv1.User{}).
		Watches(&mgmtv1.ClusterRoleTemplateBinding{}, handler.EnqueueRequestsFromMapFunc(w.usersOfBinding)).
		Watches(&mgmtv1.ProjectRoleTemplateBinding{}, handler.EnqueueRequestsFromMapFunc(w.usersOfBinding)).
		Watches(&mgmtv1.Group{}, handler.EnqueueRequestsFromMapFunc(w.membersOf)).
		// A binding may name a cluster or project before it exists;
		// access begins when it appears. Both are rare events.
		Watches(&mgmtv1.Cluster{}, handler.EnqueueRequestsFromMapFunc(w.allUsers)).
		Watches(&mgmtv1.Project{}, handler.EnqueueRequestsFromMapFunc(w.allUsers)).
		Complete(w)
	if err != nil {
		return err
	}
	d := &deliverer{c: mgr.GetClient(), fresh: mgr.GetAPIReader(), log: opts.Logger, public: opts.PublicURL, now: time.Now}
	return ctrl.NewControllerManagedBy(mgr).
		Named("notify-deliver").
		For(&mgmtv1.Notification{}).
		Watches(&mgmtv1.NotificationTarget{}, handler.EnqueueRequestsFromMapFunc(d.undelivered)).
		Complete(d)
}

// KubeconfigURL is where a user downloads their kubeconfig.
func KubeconfigURL(public *url.URL) string {
	return strings.TrimSuffix(public.String(), "/") + "/v1/kubeconfig"
}

// writer keeps each user's AccessGranted notifications: one per binding
// that applies to them, written once.
type writer struct {
	c   client.Client
	log *slog.Logger
}

// Reconcile implements reconcile.Reconciler for one User.
func (w *writer) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var u mgmtv1.User
	if err := w.c.Get(ctx, req.NamespacedName, &u); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if u.DeletionTimestamp != nil || u.Spec.State == mgmtv1.UserStateDisabled {
		return reconcile.Result{}, nil
	}
	groups, err := w.groupsOf(ctx, &u)
	if err != nil {
		return reconcile.Result{}, err
	}
	via := func(s mgmtv1.Subject) (string, bool) {
		switch {
		case s.Kind == mgmtv1.SubjectKindUser && s.Name == u.Name:
			return "", true
		case s.Kind == mgmtv1.SubjectKindGroup && slices.Contains(groups, s.Name):
			return s.Name, true
		}
		return "", false
	}
	var want []mgmtv1.Notification
	var crtbs mgmtv1.ClusterRoleTemplateBindingList
	if err := w.c.List(ctx, &crtbs); err != nil {
		return reconcile.Result{}, err
	}
	for _, b := range crtbs.Items {
		g, ok := via(b.Spec.Subject)
		if !ok || b.DeletionTimestamp != nil || !w.exists(ctx, &mgmtv1.Cluster{}, b.Spec.ClusterName) {
			continue
		}
		msg := fmt.Sprintf("You can now reach cluster %s as %s", b.Spec.ClusterName, b.Spec.RoleTemplateName)
		want = append(want, notification(u.Name, "ClusterRoleTemplateBinding", &b.ObjectMeta, b.Spec.ClusterName, "", b.Spec.RoleTemplateName, g, msg))
	}
	var prtbs mgmtv1.ProjectRoleTemplateBindingList
	if err := w.c.List(ctx, &prtbs); err != nil {
		return reconcile.Result{}, err
	}
	for _, b := range prtbs.Items {
		g, ok := via(b.Spec.Subject)
		if !ok || b.DeletionTimestamp != nil {
			continue
		}
		var p mgmtv1.Project
		if err := w.c.Get(ctx, types.NamespacedName{Name: b.Spec.ProjectName}, &p); err != nil || !w.exists(ctx, &mgmtv1.Cluster{}, p.Spec.ClusterName) {
			continue
		}
		msg := fmt.Sprintf("You were added to project %s on cluster %s as %s", p.Name, p.Spec.ClusterName, b.Spec.RoleTemplateName)
		want = append(want, notification(u.Name, "ProjectRoleTemplateBinding", &b.ObjectMeta, p.Spec.ClusterName, p.Name, b.Spec.RoleTemplateName, g, msg))
	}
	for i := range want {
		n := &want[i]
		err := w.c.Create(ctx, n, client.FieldOwner(fieldManager))
		if apierrors.IsAlreadyExists(err) {
			continue
		}
		if err != nil {
			return reconcile.Result{}, fmt.Errorf("write notification for %s: %w", u.Name, err)
		}
		w.log.InfoContext(ctx, "access notification", "user", u.Name, "cluster", n.Spec.Cluster, "project", n.Spec.Project, "binding", n.Spec.Binding)
	}
	return reconcile.Result{}, nil
}

// notification builds the AccessGranted notification of user for a
// binding. Its name is derived from the binding's uid and the user, so it
// is written once however often the user is reconciled, and a binding
// deleted and created again (a new grant) is told again.
func notification(user, kind string, binding *metav1.ObjectMeta, cluster, project, template, via, msg string) mgmtv1.Notification {
	if via != "" {
		msg += " through group " + via
	}
	sum := sha256.Sum256([]byte(kind + "/" + string(binding.UID) + "/" + user))
	name := "access-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:15]))
	return mgmtv1.Notification{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{LabelUser: labelValue(user)}},
		Spec: mgmtv1.NotificationSpec{
			User: user, Reason: mgmtv1.NotificationAccessGranted,
			Cluster: cluster, Project: project, RoleTemplate: template, Via: via,
			Binding: kind + "/" + binding.Name, Message: msg + ".",
		},
	}
}

// LabelUser carries the recipient, so the feed of one user is one
// label-selected list.
const LabelUser = "notify.bokujo.io/user"

// labelValue fits a user name into a label value: user names are object
// names (up to 253 characters), label values at most 63; longer names are
// hashed.
func labelValue(user string) string {
	if len(user) <= 63 {
		return user
	}
	sum := sha256.Sum256([]byte(user))
	return "h-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:20]))
}

// UserSelector selects the notifications of user.
func UserSelector(user string) client.MatchingLabels {
	return client.MatchingLabels{LabelUser: labelValue(user)}
}

func (w *writer) exists(ctx context.Context, obj client.Object, name string) bool {
	return w.c.Get(ctx, types.NamespacedName{Name: name}, obj) == nil
}

// groupsOf is the user's groups: Group objects listing them and the
// groups their identity provider reported.
func (w *writer) groupsOf(ctx context.Context, u *mgmtv1.User) ([]string, error) {
	var list mgmtv1.GroupList
	if err := w.c.List(ctx, &list); err != nil {
		return nil, err
	}
	groups := slices.Clone(u.Status.Groups)
	for _, g := range list.Items {
		if slices.Contains(g.Spec.Members, u.Name) {
			groups = append(groups, g.Name)
		}
	}
	return groups, nil
}

func (w *writer) usersOfBinding(ctx context.Context, o client.Object) []reconcile.Request {
	var s mgmtv1.Subject
	switch b := o.(type) {
	case *mgmtv1.ClusterRoleTemplateBinding:
		s = b.Spec.Subject
	case *mgmtv1.ProjectRoleTemplateBinding:
		s = b.Spec.Subject
	default:
		return nil
	}
	if s.Kind == mgmtv1.SubjectKindUser {
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: s.Name}}}
	}
	var users mgmtv1.UserList
	if err := w.c.List(ctx, &users); err != nil {
		return nil
	}
	var g mgmtv1.Group
	hasGroup := w.c.Get(ctx, types.NamespacedName{Name: s.Name}, &g) == nil
	var out []reconcile.Request
	for _, u := range users.Items {
		if slices.Contains(u.Status.Groups, s.Name) || (hasGroup && slices.Contains(g.Spec.Members, u.Name)) {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Name: u.Name}})
		}
	}
	return out
}

func (w *writer) membersOf(_ context.Context, o client.Object) []reconcile.Request {
	g, ok := o.(*mgmtv1.Group)
	if !ok {
		return nil
	}
	out := make([]reconcile.Request, 0, len(g.Spec.Members))
	for _, m := range g.Spec.Members {
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Name: m}})
	}
	return out
}

func (w *writer) allUsers(ctx context.Context, _ client.Object) []reconcile.Request {
	var users mgmtv1.UserList
	if err := w.c.List(ctx, &users); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(users.Items))
	for _, u := range users.Items {
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Name: u.Name}})
	}
	return out
}
