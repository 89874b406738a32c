package api

import (
	"net/http"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/notify"
)

// Notification is one entry of a user's feed.
type Notification struct {
	Name          string     `json:"name"`
	Reason        string     `json:"reason"`
	Cluster       string     `json:"cluster,omitempty"`
	Project       string     `json:"project,omitempty"`
	RoleTemplate  string     `json:"roleTemplate,omitempty"`
	Via           string     `json:"via,omitempty"`
	Message       string     `json:"message"`
	KubeconfigURL string     `json:"kubeconfigURL"`
	Time          time.Time  `json:"time"`
	ReadTime      *time.Time `json:"readTime,omitempty"`
}

// NotificationList is the feed with its unread count.
type NotificationList struct {
	List[Notification]
	Unread int `json:"unread"`
}

func (a *API) registerNotifications(mux *http.ServeMux) {
	mux.Handle("GET /v1/notifications", a.authed(a.listNotifications))
	mux.Handle("POST /v1/notifications/{name}/read", a.authed(a.readNotification))
	mux.Handle("POST /v1/notifications/read", a.authed(a.readAllNotifications))
}

// own lists the caller's notifications, newest first.
func (a *API) own(r *http.Request, c caller) ([]mgmtv1.Notification, bool) {
	var list mgmtv1.NotificationList
	if err := a.opts.Reader.List(r.Context(), &list, notify.UserSelector(c.user.Name)); err != nil {
		return nil, false
	}
	// The label holds a hash for long names: the spec decides.
	items := slices.DeleteFunc(list.Items, func(n mgmtv1.Notification) bool { return n.Spec.User != c.user.Name })
	slices.SortFunc(items, func(x, y mgmtv1.Notification) int {
		if c := y.CreationTimestamp.Compare(x.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(x.Name, y.Name)
	})
	return items, true
}

func (a *API) listNotifications(w http.ResponseWriter, r *http.Request, c caller) {
	unreadOnly := false
	switch r.URL.Query().Get("unread") {
	case "", "false":
	case "true":
		unreadOnly = true
	default:
		writeError(w, http.StatusBadRequest, "BadRequest", "unread must be true or false")
		return
	}
	list, ok := a.own(r, c)
	if !ok {
		writeError(w, http.StatusInternalServerError, "Internal", "cannot list notifications; try again")
		return
	}
	kubeconfig := notify.KubeconfigURL(a.opts.PublicURL)
	items := make([]Notification, 0, len(list))
	unread := 0
	for _, n := range list {
		if n.Status.ReadTime == nil {
			unread++
		} else if unreadOnly {
			continue
		}
		out := Notification{Name: n.Name, Reason: string(n.Spec.Reason), Cluster: n.Spec.Cluster, Project: n.Spec.Project,
			RoleTemplate: n.Spec.RoleTemplate, Via: n.Spec.Via, Message: n.Spec.Message, KubeconfigURL: kubeconfig,
			Time: n.CreationTimestamp.UTC()}
		if n.Status.ReadTime != nil {
			t := n.Status.ReadTime.UTC()
			out.ReadTime = &t
		}
		items = append(items, out)
	}
	pg, next, ok := page(w, r, items)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, NotificationList{List: List[Notification]{Items: pg, Continue: next}, Unread: unread})
}

func (a *API) readNotification(w http.ResponseWriter, r *http.Request, c caller) {
	name := r.PathValue("name")
	list, ok := a.own(r, c)
	if !ok {
		writeError(w, http.StatusInternalServerError, "Internal", "cannot read notifications; try again")
		return
	}
	i := slices.IndexFunc(list, func(n mgmtv1.Notification) bool { return n.Name == name })
	if i < 0 {
		// Another user's notification answers like a missing one.
		writeError(w, http.StatusNotFound, "NotFound", "notification %q not found", name)
		return
	}
	if !a.markRead(w, r, &list[i]) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) readAllNotifications(w http.ResponseWriter, r *http.Request, c caller) {
	list, ok := a.own(r, c)
	if !ok {
		writeError(w, http.StatusInternalServerError, "Internal", "cannot read notifications; try again")
		return
	}
	for i := range list {
		if !a.markRead(w, r, &list[i]) {
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// markRead sets readTime once; it writes the error answer and returns
// false when the write fails.
func (a *API) markRead(w http.ResponseWriter, r *http.Request, n *mgmtv1.Notification) bool {
	if n.Status.ReadTime != nil {
		return true
	}
	before := n.DeepCopy()
	now := metav1.Now()
	n.Status.ReadTime = &now
	if err := a.opts.Writer.Status().Patch(r.Context(), n, client.MergeFrom(before)); err != nil {
		a.log.Error("mark notification read", "notification", n.Name, "err", err)
		writeError(w, http.StatusInternalServerError, "Internal", "cannot mark the notification read; try again")
		return false
	}
	return true
}
