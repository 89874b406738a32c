package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// State is what the agent keeps: its cluster's id and its credential.
type State struct {
	Cluster    string `json:"cluster"`
	Credential string `json:"credential"`
}

// Store keeps the agent's State; Load returns a zero State before the
// first registration.
type Store interface {
	Load(ctx context.Context) (State, error)
	Save(ctx context.Context, s State) error
}

// FileStore keeps the state in Dir/agent.json (mode 0600).
type FileStore struct{ Dir string }

func (f FileStore) path() string { return filepath.Join(f.Dir, "agent.json") }

// Load implements Store.
func (f FileStore) Load(context.Context) (State, error) {
	data, err := os.ReadFile(f.path())
	if errors.Is(err, os.ErrNotExist) {
		return State{}, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("read agent state: %w", err)
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return State{}, fmt.Errorf("agent state %s is corrupt (delete it and register again with a new token): %w", f.path(), err)
	}
	return s, nil
}

// Save implements Store.
func (f FileStore) Save(_ context.Context, s State) error {
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return fmt.Errorf("save agent state: %w", err)
	}
	data, _ := json.Marshal(s)
	tmp := f.path() + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("save agent state: %w", err)
	}
	if err := os.Rename(tmp, f.path()); err != nil {
		return fmt.Errorf("save agent state: %w", err)
	}
	return nil
}

// SecretStore keeps the state in a Secret of the agent's own namespace.
type SecretStore struct {
	Client          kubernetes.Interface
	Namespace, Name string
}

// Load implements Store.
func (s SecretStore) Load(ctx context.Context) (State, error) {
	sec, err := s.Client.CoreV1().Secrets(s.Namespace).Get(ctx, s.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return State{}, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("read agent state from secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	return State{Cluster: string(sec.Data["cluster"]), Credential: string(sec.Data["credential"])}, nil
}

// Save implements Store.
func (s SecretStore) Save(ctx context.Context, st State) error {
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace,
		Labels: map[string]string{"app.kubernetes.io/part-of": "bokujo"}},
		Data: map[string][]byte{"cluster": []byte(st.Cluster), "credential": []byte(st.Credential)}}
	_, err := s.Client.CoreV1().Secrets(s.Namespace).Create(ctx, sec, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		_, err = s.Client.CoreV1().Secrets(s.Namespace).Update(ctx, sec, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("save agent state to secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	return nil
}
