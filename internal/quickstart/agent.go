package quickstart

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/agent"
	"bokujo.io/bokujo/internal/app"
	"bokujo.io/bokujo/internal/localcluster"
)

// AgentCluster is the demo cluster `bokujo up` connects through the agent,
// so the quick start exercises the path of clusters behind NAT; the other
// demo clusters are imported by kubeconfig.
const AgentCluster = "prod"

// startDemoAgent runs `bokujo agent` for a demo cluster in this process: the
// same code as in a cluster, with the cluster's admin kubeconfig as its
// "in-cluster" configuration, dialling the server over loopback. Its
// credential is kept in <state-dir>/agents/<cluster>, so a restart
// reconnects without a new token.
func startDemoAgent(ctx context.Context, wg *sync.WaitGroup, a *app.App, name string, c *localcluster.Cluster, stateDir string, caPEM []byte, log *slog.Logger) error {
	store := agent.FileStore{Dir: filepath.Join(stateDir, "agents", name)}
	state, err := store.Load(ctx)
	if err != nil {
		return err
	}
	var token string
	var existing mgmtv1.Cluster
	err = a.Client.Get(ctx, types.NamespacedName{Name: name}, &existing)
	switch {
	case apierrors.IsNotFound(err):
		reg, err := a.Registry.AddAgentCluster(ctx, name, "demo cluster "+name+" (agent)")
		if err != nil {
			return fmt.Errorf("add demo cluster %s: %w", name, err)
		}
		token = reg.Token
	case err != nil:
		return fmt.Errorf("get demo cluster %s: %w", name, err)
	case existing.Spec.Source.Agent == nil:
		// A state directory from before the agent path: keep it imported.
		log.Info("demo cluster stays imported by kubeconfig", "cluster", name)
		return nil
	case state.Credential == "" || state.Cluster != name:
		reg, err := a.Registry.IssueRegistrationToken(ctx, name)
		if err != nil {
			return fmt.Errorf("new registration token for demo cluster %s: %w", name, err)
		}
		token, state = reg.Token, agent.State{}
		if err := store.Save(ctx, state); err != nil {
			return err
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := agent.Run(ctx, agent.Options{
			Server: "https://" + displayAddr(a.Server.Addr()), CAData: caPEM, Token: token,
			Local: c.RESTConfig(), State: store, Logger: log.With("component", "agent", "cluster", name),
		})
		if err != nil {
			log.Error("the demo agent stopped; the cluster stays disconnected", "cluster", name, "err", err)
		}
	}()
	return nil
}
