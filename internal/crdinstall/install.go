// Package crdinstall installs CustomResourceDefinitions into a cluster and
// waits until the API server serves them, so that the controllers and API
// handlers started next can use the new kinds at once.
package crdinstall

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
)

const (
	// FieldManager owns the CRDs' fields in server-side apply.
	FieldManager = "bokujo"
	// DefaultTimeout bounds Install, applying and waiting for the CRDs to
	// be established, when ctx has no earlier deadline.
	DefaultTimeout = time.Minute

	pollInterval = 100 * time.Millisecond
)

// Install creates or updates crds with server-side apply and waits until
// every one is Established, within DefaultTimeout or ctx's deadline,
// whichever comes first. Applying unchanged CRDs writes nothing, so calling
// it at every start is cheap.
func Install(ctx context.Context, cfg *rest.Config, crds []*apiextensionsv1.CustomResourceDefinition) error {
	client, err := apiextensionsclient.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("install CRDs: create client: %w", err)
	}
	return install(ctx, client, crds, DefaultTimeout)
}

func install(ctx context.Context, client apiextensionsclient.Interface, crds []*apiextensionsv1.CustomResourceDefinition, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// All are applied before waiting for any, so the API server
	// establishes them in parallel.
	for _, crd := range crds {
		if err := apply(ctx, client, crd); err != nil {
			return err
		}
	}
	for _, crd := range crds {
		if err := waitEstablished(ctx, client, crd.Name); err != nil {
			return err
		}
	}
	return nil
}

// apply sends crd as a server-side apply patch. Force takes over fields
// another manager (kubectl apply, an older bokujo) set, since the server's
// embedded definitions are authoritative.
func apply(ctx context.Context, client apiextensionsclient.Interface, crd *apiextensionsv1.CustomResourceDefinition) error {
	body, err := applyBody(crd)
	if err != nil {
		return fmt.Errorf("apply CRD %s: %w", crd.Name, err)
	}
	force := true
	_, err = client.ApiextensionsV1().CustomResourceDefinitions().Patch(ctx, crd.Name, types.ApplyPatchType, body,
		metav1.PatchOptions{FieldManager: FieldManager, Force: &force})
	if err != nil {
		return fmt.Errorf("apply CRD %s: %w", crd.Name, err)
	}
	return nil
}

// applyBody renders the fields bokujo means to own. Status is the API
// server's, and the zero creationTimestamp would be sent as null; applying
// either would make bokujo claim fields it does not set.
func applyBody(crd *apiextensionsv1.CustomResourceDefinition) ([]byte, error) {
	if crd.Name == "" {
		return nil, errors.New("CRD has no name")
	}
	obj := crd.DeepCopy()
	obj.APIVersion = apiextensionsv1.SchemeGroupVersion.String()
	obj.Kind = "CustomResourceDefinition"
	obj.ResourceVersion = ""
	obj.UID = ""
	obj.ManagedFields = nil
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	delete(m, "status")
	if meta, ok := m["metadata"].(map[string]any); ok {
		delete(meta, "creationTimestamp")
	}
	return json.Marshal(m)
}

// waitEstablished polls until the CRD is Established, and fails at once
// when the API server refused its names, since that never resolves alone.
func waitEstablished(ctx context.Context, client apiextensionsclient.Interface, name string) error {
	var last string
	err := wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		crd, err := client.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		for _, c := range crd.Status.Conditions {
			switch {
			case c.Type == apiextensionsv1.NamesAccepted && c.Status == apiextensionsv1.ConditionFalse:
				return false, fmt.Errorf("names not accepted: %s: %s", c.Reason, c.Message)
			case c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue:
				return true, nil
			case c.Type == apiextensionsv1.Established:
				last = fmt.Sprintf("Established=%s: %s: %s", c.Status, c.Reason, c.Message)
			}
		}
		return false, nil
	})
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		if last == "" {
			last = "no Established condition yet"
		}
		return fmt.Errorf("CRD %s not established: %w (last seen: %s)", name, ctx.Err(), last)
	}
	return fmt.Errorf("CRD %s not established: %w", name, err)
}
