package clusters

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Names of what bokujo creates in a downstream cluster.
const (
	DownstreamNamespace = "bokujo-system"
	ProxyAccount        = "bokujo-proxy"
	ManagerAccount      = "bokujo-manager"
	ProxyClusterRole    = "bokujo:proxy"
	ManagerClusterRole  = "bokujo:manager"
	managedByLabel      = "app.kubernetes.io/managed-by"
	managedByValue      = "bokujo"
	// identityLabel marks bokujo's own identities downstream. They do not
	// carry the managed-by label on purpose: RBAC sync owns every RBAC
	// object with that label and removes the ones no binding explains.
	identityLabel = "bokujo.io/identity"
)

// proxyRules are all the proxy identity may do: impersonate users and
// groups. Kubernetes then authorizes every proxied request as that user, so
// a proxy bug can never exceed the caller's own rights.
var proxyRules = []rbacv1.PolicyRule{{
	APIGroups: []string{""},
	Resources: []string{"users", "groups"},
	Verbs:     []string{"impersonate"},
}}

// managerRules are what RBAC sync, projects, health and bokujo's in-cluster
// controllers need. RBAC objects need escalate and bind because role
// templates such as cluster-owner hold rules the manager itself has not.
var managerRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"clusterroles", "clusterrolebindings", "roles", "rolebindings"},
		Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete", "escalate", "bind"}},
	{APIGroups: []string{""}, Resources: []string{"namespaces", "resourcequotas", "limitranges"},
		Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
	{APIGroups: []string{""}, Resources: []string{"nodes", "pods", "events", "persistentvolumeclaims"}, Verbs: []string{"get", "list", "watch"}},
	// bokujo's in-cluster controllers (internal/fleet): MLTasks become
	// Jobs or StatefulSets with headless Services, Releases manage a
	// Deployment's ReplicaSets; both record Events and read pod logs.
	{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
	{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	{APIGroups: []string{"events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"delete"}},
	{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get"}},
	{APIGroups: []string{"apps"}, Resources: []string{"deployments", "replicasets", "statefulsets"},
		Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
	{APIGroups: []string{"apps"}, Resources: []string{"deployments/status", "deployments/scale", "replicasets/scale", "statefulsets/scale"},
		Verbs: []string{"get", "update", "patch"}},
	{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
	// Cluster tools (internal/clustertools): monitoring and logging run
	// as DaemonSets and Deployments with their own accounts and config.
	{APIGroups: []string{"apps"}, Resources: []string{"daemonsets"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
	{APIGroups: []string{""}, Resources: []string{"configmaps", "serviceaccounts"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
	{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "list", "watch", "create", "update"}},
	{APIGroups: []string{"apiextensions.k8s.io"}, Resources: []string{"customresourcedefinitions"},
		Verbs: []string{"get", "list", "watch", "create", "update", "patch"}},
	{APIGroups: []string{"ml.bokujo.io", "delivery.bokujo.io"}, Resources: []string{"*"}, Verbs: []string{"*"}},
	{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
	{NonResourceURLs: []string{"/readyz", "/livez", "/version"}, Verbs: []string{"get"}},
}

// Credentials are the two kubeconfigs bokujo keeps for a cluster.
type Credentials struct {
	Proxy, Manager []byte
}

// Provision creates bokujo's namespace, service accounts, roles and
// long-lived tokens in a downstream cluster using the caller's (admin)
// configuration, and returns kubeconfigs for the two identities. It is
// idempotent. The admin configuration is not kept.
func Provision(ctx context.Context, admin *rest.Config) (Credentials, error) {
	client, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return Credentials{}, fmt.Errorf("provision: client: %w", err)
	}
	labels := map[string]string{"app.kubernetes.io/part-of": "bokujo", identityLabel: "true"}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: DownstreamNamespace, Labels: labels}}
	if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		// The agent may not create namespaces; its manifest creates this
		// one beforehand.
		if _, gerr := client.CoreV1().Namespaces().Get(ctx, DownstreamNamespace, metav1.GetOptions{}); !apierrors.IsForbidden(err) || gerr != nil {
			return Credentials{}, fmt.Errorf("provision: create namespace %s: %w", DownstreamNamespace, err)
		}
	}
	var creds Credentials
	for _, id := range []struct {
		account, role string
		rules         []rbacv1.PolicyRule
		out           *[]byte
	}{
		{ProxyAccount, ProxyClusterRole, proxyRules, &creds.Proxy},
		{ManagerAccount, ManagerClusterRole, managerRules, &creds.Manager},
	} {
		if err := applyIdentity(ctx, client, id.account, id.role, id.rules, labels); err != nil {
			return Credentials{}, err
		}
		token, ca, err := accountToken(ctx, client, id.account)
		if err != nil {
			return Credentials{}, err
		}
		if len(ca) == 0 {
			ca = admin.CAData
		}
		kc, err := tokenKubeconfig(admin.Host, ca, token)
		if err != nil {
			return Credentials{}, err
		}
		*id.out = kc
	}
	return creds, nil
}

func applyIdentity(ctx context.Context, client kubernetes.Interface, account, role string, rules []rbacv1.PolicyRule, labels map[string]string) error {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: account, Namespace: DownstreamNamespace, Labels: labels}}
	if _, err := client.CoreV1().ServiceAccounts(DownstreamNamespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("provision: create service account %s: %w", account, err)
	}
	cr := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: role, Labels: labels}, Rules: rules}
	if existing, err := client.RbacV1().ClusterRoles().Get(ctx, role, metav1.GetOptions{}); err == nil {
		existing.Rules, existing.Labels = rules, labels
		if _, err := client.RbacV1().ClusterRoles().Update(ctx, existing, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("provision: update cluster role %s: %w", role, err)
		}
	} else if _, err := client.RbacV1().ClusterRoles().Create(ctx, cr, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("provision: create cluster role %s: %w", role, err)
	}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role, Labels: labels},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: account, Namespace: DownstreamNamespace}},
	}
	if _, err := client.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("provision: bind cluster role %s: %w", role, err)
	}
	return nil
}

// accountToken returns the token of a service-account token Secret, creating
// the Secret and waiting for the token controller to fill it. A Secret token
// does not expire, which is what a registry of clusters needs; it is revoked
// by deleting the Secret.
func accountToken(ctx context.Context, client kubernetes.Interface, account string) (token, ca []byte, err error) {
	name := account + "-token"
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: DownstreamNamespace,
			Annotations: map[string]string{corev1.ServiceAccountNameKey: account},
			Labels:      map[string]string{"app.kubernetes.io/part-of": "bokujo", identityLabel: "true"}},
		Type: corev1.SecretTypeServiceAccountToken,
	}
	if _, err := client.CoreV1().Secrets(DownstreamNamespace).Create(ctx, secret, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, nil, fmt.Errorf("provision: create token secret for %s: %w", account, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, err := client.CoreV1().Secrets(DownstreamNamespace).Get(ctx, name, metav1.GetOptions{})
		if err == nil && len(s.Data[corev1.ServiceAccountTokenKey]) > 0 {
			return s.Data[corev1.ServiceAccountTokenKey], s.Data[corev1.ServiceAccountRootCAKey], nil
		}
		if time.Now().After(deadline) {
			return nil, nil, fmt.Errorf("provision: token for %s was not issued within 30s (is kube-controller-manager running?)", account)
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func tokenKubeconfig(server string, ca, token []byte) ([]byte, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["cluster"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos["bokujo"] = &clientcmdapi.AuthInfo{Token: string(token)}
	cfg.Contexts["bokujo"] = &clientcmdapi.Context{Cluster: "cluster", AuthInfo: "bokujo"}
	cfg.CurrentContext = "bokujo"
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, fmt.Errorf("provision: render kubeconfig: %w", err)
	}
	return data, nil
}

// secretName is where a cluster's credential of one identity is kept in the
// management cluster.
func secretName(cluster, identity string) string { return "cluster-" + cluster + "-" + identity }
