package api

import (
	"net/http"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
)

// The admin API for identity providers. The AuthProvider object is what
// the login code reads; this API writes it and the Secret its credential
// lives in, so an administrator never has to handle the two separately.
// `kubectl apply` of the same objects works as well.

// AuthProvider is a provider as the admin API shows it: the spec, with
// the secret's value never returned.
type AuthProvider struct {
	Name       string                  `json:"name"`
	Spec       mgmtv1.AuthProviderSpec `json:"spec"`
	Conditions []metav1.Condition      `json:"conditions,omitempty"`
	LastTest   *metav1.Time            `json:"lastTestTime,omitempty"`
}

type putAuthProviderRequest struct {
	Spec mgmtv1.AuthProviderSpec `json:"spec"`
	// Secret is the OIDC or GitHub client secret, or the LDAP bind
	// password. Omitted on an update, the stored one is kept.
	Secret string `json:"secret,omitempty"`
}

func (a *API) registerAuthProviders(mux *http.ServeMux) {
	mux.Handle("GET /v1/admin/authproviders", a.authed(a.admin(a.listAuthProviders)))
	mux.Handle("PUT /v1/admin/authproviders/{name}", a.authed(a.admin(a.putAuthProvider)))
	mux.Handle("DELETE /v1/admin/authproviders/{name}", a.authed(a.admin(a.deleteAuthProvider)))
}

func providerSecretName(provider string) string { return "authprovider-" + provider }

func (a *API) listAuthProviders(w http.ResponseWriter, r *http.Request, _ caller) {
	var list mgmtv1.AuthProviderList
	if err := a.opts.Reader.List(r.Context(), &list); err != nil {
		writeError(w, http.StatusInternalServerError, "Internal", "cannot list identity providers; try again")
		return
	}
	items := make([]AuthProvider, 0, len(list.Items))
	for _, p := range list.Items {
		items = append(items, AuthProvider{Name: p.Name, Spec: p.Spec, Conditions: p.Status.Conditions, LastTest: p.Status.LastTestTime})
	}
	slices.SortFunc(items, func(x, y AuthProvider) int { return strings.Compare(x.Name, y.Name) })
	writeJSON(w, http.StatusOK, List[AuthProvider]{Items: items})
}

func (a *API) putAuthProvider(w http.ResponseWriter, r *http.Request, c caller) {
	name := r.PathValue("name")
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		writeError(w, http.StatusBadRequest, "BadRequest", "invalid provider name %q: %s", name, errs[0])
		return
	}
	var req putAuthProviderRequest
	if !decode(w, r, &req) {
		return
	}
	if len(req.Secret) > 4096 {
		writeError(w, http.StatusBadRequest, "BadRequest", "secret is at most 4096 bytes")
		return
	}
	// Point the spec's secret reference at the provider's own Secret, so a
	// request cannot make bokujo read any other Secret.
	ref := mgmtv1.SecretReference{Name: providerSecretName(name)}
	key := mgmtv1.ClientSecretSecretKey
	switch {
	case req.Spec.OIDC != nil:
		req.Spec.OIDC.ClientSecretRef = &ref
	case req.Spec.GitHub != nil:
		req.Spec.GitHub.ClientSecretRef = ref
	case req.Spec.LDAP != nil:
		req.Spec.LDAP.BindPasswordRef, key = ref, mgmtv1.BindPasswordSecretKey
	}
	ctx := r.Context()
	var existing mgmtv1.AuthProvider
	err := a.writer().Get(ctx, clientKey(name), &existing)
	creating := apierrors.IsNotFound(err)
	if err != nil && !creating {
		writeError(w, http.StatusInternalServerError, "Internal", "cannot read provider %q; try again", name)
		return
	}
	if creating && req.Secret == "" {
		writeError(w, http.StatusBadRequest, "BadRequest", "a new provider needs its secret (client secret or bind password)")
		return
	}
	if req.Secret != "" {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: ref.Name, Namespace: mgmtv1.SystemNamespace,
			Labels: map[string]string{"app.kubernetes.io/part-of": "bokujo", "management.bokujo.io/authprovider": name}},
			Data: map[string][]byte{key: []byte(req.Secret)}}
		serr := a.writer().Create(ctx, s)
		if apierrors.IsAlreadyExists(serr) {
			serr = a.writer().Update(ctx, s)
		}
		if serr != nil {
			// Never echo the error: it could quote the object.
			a.log.Error("store provider secret", "provider", name, "reason", apierrors.ReasonForError(serr))
			writeError(w, http.StatusInternalServerError, "Internal", "cannot store the provider's secret; try again")
			return
		}
	}
	obj := &mgmtv1.AuthProvider{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: req.Spec}
	verb, status := "create", http.StatusCreated
	if creating {
		err = a.writer().Create(ctx, obj)
	} else {
		verb, status = "update", http.StatusOK
		obj = &existing
		// The read above may come from a cache a moment behind a write
		// just made (by this replica or another): a conflict re-reads and
		// tries again rather than failing the request.
		err = a.update(ctx, obj, func() { obj.Spec = req.Spec })
	}
	if err != nil {
		code := http.StatusBadRequest
		if !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err) {
			code = http.StatusInternalServerError
		}
		a.record(r, c, verb, "authproviders", name, code)
		writeError(w, code, "Invalid", "%v", apiMessage(err))
		return
	}
	a.record(r, c, verb, "authproviders", name, status)
	writeJSON(w, status, AuthProvider{Name: obj.Name, Spec: obj.Spec})
}

func (a *API) deleteAuthProvider(w http.ResponseWriter, r *http.Request, c caller) {
	name := r.PathValue("name")
	ctx := r.Context()
	p := &mgmtv1.AuthProvider{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := a.writer().Delete(ctx, p); err != nil {
		if apierrors.IsNotFound(err) {
			writeError(w, http.StatusNotFound, "NotFound", "identity provider %q not found", name)
			return
		}
		writeError(w, http.StatusInternalServerError, "Internal", "cannot delete provider %q; try again", name)
		return
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: providerSecretName(name), Namespace: mgmtv1.SystemNamespace}}
	if err := a.writer().Delete(ctx, s); err != nil && !apierrors.IsNotFound(err) {
		a.log.Error("delete provider secret", "provider", name, "reason", apierrors.ReasonForError(err))
	}
	a.record(r, c, "delete", "authproviders", name, http.StatusOK)
	writeJSON(w, http.StatusOK, map[string]string{"name": name})
}
