package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/auth"
)

// Users manages local users (implemented by the auth service).
type Users interface {
	CreateLocalUser(ctx context.Context, username, displayName, password string) (*mgmtv1.User, error)
	Disable(ctx context.Context, name string) error
	Enable(ctx context.Context, name string) error
	RequirePasswordChange(ctx context.Context, name string) error
}

// User is a user as the admin API shows it. Password hashes never leave
// the server.
type User struct {
	Name          string     `json:"name"`
	Username      string     `json:"username,omitempty"`
	DisplayName   string     `json:"displayName,omitempty"`
	State         string     `json:"state"`
	Groups        []string   `json:"groups,omitempty"`
	LastLoginTime *time.Time `json:"lastLoginTime,omitempty"`
}

func (a *API) registerUsers(mux *http.ServeMux) {
	mux.Handle("GET /v1/users", a.authed(a.admin(a.listUsers)))
	mux.Handle("POST /v1/users", a.authed(a.admin(a.createUser)))
	mux.Handle("POST /v1/users/{name}/disable", a.authed(a.admin(a.setUserState(false))))
	mux.Handle("POST /v1/users/{name}/enable", a.authed(a.admin(a.setUserState(true))))
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request, _ caller) {
	var list mgmtv1.UserList
	if err := a.opts.Reader.List(r.Context(), &list); err != nil {
		writeError(w, http.StatusInternalServerError, "Internal", "cannot list users; try again")
		return
	}
	items := make([]User, 0, len(list.Items))
	for _, u := range list.Items {
		out := User{Name: u.Name, Username: u.Spec.Username, DisplayName: u.Spec.DisplayName, State: string(u.Spec.State), Groups: u.Status.Groups}
		if out.State == "" {
			out.State = string(mgmtv1.UserStateActive)
		}
		if u.Status.LastLoginTime != nil {
			t := u.Status.LastLoginTime.Time
			out.LastLoginTime = &t
		}
		items = append(items, out)
	}
	slices.SortFunc(items, func(x, y User) int { return strings.Compare(x.Name, y.Name) })
	pg, next, ok := page(w, r, items)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, List[User]{Items: pg, Continue: next})
}

type createUserRequest struct {
	Username    string `json:"username"`
	DisplayName string `json:"displayName,omitempty"`
	Password    string `json:"password"`
	// MustChangePassword asks the user to choose a new password at the
	// first login.
	MustChangePassword bool `json:"mustChangePassword,omitempty"`
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request, c caller) {
	var req createUserRequest
	if !decode(w, r, &req) {
		return
	}
	if len(req.DisplayName) > 256 {
		writeError(w, http.StatusBadRequest, "BadRequest", "displayName is at most 256 characters")
		return
	}
	u, err := a.opts.Users.CreateLocalUser(r.Context(), req.Username, req.DisplayName, req.Password)
	if err != nil {
		status, code := http.StatusBadRequest, "BadRequest"
		switch {
		case errors.Is(err, auth.ErrUserExists):
			status, code = http.StatusConflict, "AlreadyExists"
		case !errors.Is(err, auth.ErrWeakPassword) && !errors.Is(err, auth.ErrInvalidUsername):
			a.log.Error("create user", "err", err)
			status, code = http.StatusInternalServerError, "Internal"
		}
		a.record(r, c, "create", "users", req.Username, status)
		// The auth service's messages never contain the password.
		writeError(w, status, code, "%v", err)
		return
	}
	if req.MustChangePassword {
		if err := a.opts.Users.RequirePasswordChange(r.Context(), u.Name); err != nil {
			a.log.Error("require a password change", "user", u.Name, "err", err)
			a.record(r, c, "create", "users", u.Name, http.StatusInternalServerError)
			writeError(w, http.StatusInternalServerError, "Internal", "the user %s was created, but asking for a new password at first login failed; disable the user or try setting it again", u.Name)
			return
		}
	}
	a.record(r, c, "create", "users", u.Name, http.StatusCreated)
	writeJSON(w, http.StatusCreated, User{Name: u.Name, Username: u.Spec.Username, DisplayName: u.Spec.DisplayName, State: string(mgmtv1.UserStateActive)})
}

func (a *API) setUserState(enable bool) func(http.ResponseWriter, *http.Request, caller) {
	return func(w http.ResponseWriter, r *http.Request, c caller) {
		name := r.PathValue("name")
		verb := "disable"
		fn := a.opts.Users.Disable
		if enable {
			verb, fn = "enable", a.opts.Users.Enable
		}
		if !enable && name == c.user.Name {
			writeError(w, http.StatusBadRequest, "BadRequest", "you cannot disable yourself")
			return
		}
		if err := fn(r.Context(), name); err != nil {
			status := http.StatusInternalServerError
			if errors.Is(err, auth.ErrUserNotFound) {
				status = http.StatusNotFound
			}
			a.record(r, c, verb, "users", name, status)
			writeError(w, status, "Error", "%s user %q: %v", verb, name, err)
			return
		}
		a.record(r, c, verb, "users", name, http.StatusOK)
		writeJSON(w, http.StatusOK, map[string]string{"name": name, "state": map[bool]string{true: "Active", false: "Disabled"}[enable]})
	}
}
