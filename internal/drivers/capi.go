// Package drivers creates clusters that a Cluster object asks for
// (spec.source.driver): the local driver runs a control plane with
// simulated nodes on the server's machine; the capi driver renders the
// Cluster API objects of an EKS cluster and applies them to the management
// cluster, where Cluster API and its AWS provider create it.
package drivers

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
)

// API versions the capi driver writes: Cluster API v1.10+ (v1beta2) and
// Cluster API Provider AWS v2.9+ (v1beta2).
const (
	capiGroup         = "cluster.x-k8s.io"
	capiVersion       = capiGroup + "/v1beta2"
	infraGroup        = "infrastructure.cluster.x-k8s.io"
	infraVersion      = infraGroup + "/v1beta2"
	controlPlaneGroup = "controlplane.cluster.x-k8s.io"
	controlPlaneVer   = controlPlaneGroup + "/v1beta2"
	bootstrapGroup    = "bootstrap.cluster.x-k8s.io"
	bootstrapVersion  = bootstrapGroup + "/v1beta2"

	// DefaultCAPINamespace holds the Cluster API objects of driver
	// clusters unless spec.source.driver.capi.namespace says otherwise.
	DefaultCAPINamespace = "bokujo-capi"
	// DefaultIdentityNamespace is where CAPA runs and reads the Secrets of
	// static identities.
	DefaultIdentityNamespace = "capa-system"
	// DefaultEKSVersion is used when the Cluster names none.
	DefaultEKSVersion = "v1.33"
	// DefaultInstanceType is used for pools that name none.
	DefaultInstanceType = "m6i.xlarge"

	// LabelCluster marks every object rendered for a bokujo Cluster.
	LabelCluster = "bokujo.io/cluster"
)

// CAPINamespace is where the Cluster API objects of c go.
func CAPINamespace(c *mgmtv1.Cluster) string {
	if s := c.Spec.Source.Driver.CAPI; s != nil && s.Namespace != "" {
		return s.Namespace
	}
	return DefaultCAPINamespace
}

// KubeconfigSecretName is the Secret Cluster API writes the new cluster's
// admin kubeconfig to, in CAPINamespace.
func KubeconfigSecretName(c *mgmtv1.Cluster) string { return c.Name + "-kubeconfig" }

// RenderEKS renders the Cluster API objects of an EKS cluster for c with
// the AWS credentials creds (keys AccessKeyID, SecretAccessKey and
// optionally SessionToken): a static identity and its Secret in the CAPA
// namespace, the Cluster with its AWSManagedCluster and
// AWSManagedControlPlane, and per node pool a MachineDeployment with its
// AWSMachineTemplate and EKSConfigTemplate. Pools' labels and taints
// become kubelet flags, so nodes register with them.
func RenderEKS(c *mgmtv1.Cluster, creds map[string][]byte) ([]*unstructured.Unstructured, error) {
	d := c.Spec.Source.Driver
	if d == nil || d.Name != mgmtv1.DriverCAPI || d.CAPI == nil {
		return nil, errors.New("not a capi driver cluster")
	}
	if d.CAPI.Provider != mgmtv1.CAPIProviderAWS {
		return nil, fmt.Errorf("capi provider %q is not supported; use AWS", d.CAPI.Provider)
	}
	for _, k := range []string{mgmtv1.AWSAccessKeyIDKey, mgmtv1.AWSSecretAccessKeyKey} {
		if len(creds[k]) == 0 {
			return nil, fmt.Errorf("credentials secret %s has no key %s", d.CAPI.CredentialsSecretRef.Name, k)
		}
	}
	ns := CAPINamespace(c)
	idNS := d.CAPI.IdentityNamespace
	if idNS == "" {
		idNS = DefaultIdentityNamespace
	}
	version := d.KubernetesVersion
	if version == "" {
		version = DefaultEKSVersion
	}
	name := c.Name
	identity := "bokujo-" + name
	labels := map[string]any{LabelCluster: name}
	obj := func(apiVersion, kind, namespace, objName string, spec map[string]any) *unstructured.Unstructured {
		meta := map[string]any{"name": objName, "labels": copyMap(labels)}
		if namespace != "" {
			meta["namespace"] = namespace
		}
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": meta}}
		if spec != nil {
			u.Object["spec"] = spec
		}
		return u
	}
	secretData := map[string]any{}
	for _, k := range []string{mgmtv1.AWSAccessKeyIDKey, mgmtv1.AWSSecretAccessKeyKey, "SessionToken"} {
		if v := creds[k]; len(v) > 0 {
			secretData[k] = string(v)
		}
	}
	secret := obj("v1", "Secret", idNS, identity, nil)
	secret.Object["type"] = string(corev1.SecretTypeOpaque)
	secret.Object["stringData"] = secretData

	out := []*unstructured.Unstructured{
		secret,
		obj(infraVersion, "AWSClusterStaticIdentity", "", identity, map[string]any{
			"secretRef":         identity,
			"allowedNamespaces": map[string]any{"list": []any{ns}},
		}),
		obj(capiVersion, "Cluster", ns, name, map[string]any{
			"clusterNetwork":    map[string]any{"pods": map[string]any{"cidrBlocks": []any{"192.168.0.0/16"}}},
			"infrastructureRef": map[string]any{"apiGroup": infraGroup, "kind": "AWSManagedCluster", "name": name},
			"controlPlaneRef":   map[string]any{"apiGroup": controlPlaneGroup, "kind": "AWSManagedControlPlane", "name": name + "-control-plane"},
		}),
		obj(infraVersion, "AWSManagedCluster", ns, name, map[string]any{}),
	}
	cp := map[string]any{
		"region":         d.CAPI.Region,
		"version":        version,
		"eksClusterName": strings.ReplaceAll(ns+"_"+name, "-", "_"),
		"identityRef":    map[string]any{"kind": "AWSClusterStaticIdentity", "name": identity},
	}
	if d.CAPI.SSHKeyName != "" {
		cp["sshKeyName"] = d.CAPI.SSHKeyName
	}
	out = append(out, obj(controlPlaneVer, "AWSManagedControlPlane", ns, name+"-control-plane", cp))
	for _, p := range d.NodePools {
		pool := name + "-" + p.Name
		instance := p.InstanceType
		if instance == "" {
			instance = DefaultInstanceType
		}
		machine := map[string]any{"instanceType": instance, "iamInstanceProfile": "nodes.cluster-api-provider-aws.sigs.k8s.io"}
		if d.CAPI.SSHKeyName != "" {
			machine["sshKeyName"] = d.CAPI.SSHKeyName
		}
		bootstrap := map[string]any{}
		if args := kubeletArgs(p); len(args) > 0 {
			bootstrap["kubeletExtraArgs"] = args
		}
		selector := map[string]any{LabelCluster: name, "bokujo.io/node-pool": p.Name}
		out = append(out,
			obj(infraVersion, "AWSMachineTemplate", ns, pool, map[string]any{"template": map[string]any{"spec": machine}}),
			obj(bootstrapVersion, "EKSConfigTemplate", ns, pool, map[string]any{"template": map[string]any{"spec": bootstrap}}),
			obj(capiVersion, "MachineDeployment", ns, pool, map[string]any{
				"clusterName": name,
				"replicas":    int64(p.Count),
				"selector":    map[string]any{"matchLabels": selector},
				"template": map[string]any{
					"metadata": map[string]any{"labels": copyMap(selector)},
					"spec": map[string]any{
						"clusterName":       name,
						"version":           version,
						"bootstrap":         map[string]any{"configRef": map[string]any{"apiGroup": bootstrapGroup, "kind": "EKSConfigTemplate", "name": pool}},
						"infrastructureRef": map[string]any{"apiGroup": infraGroup, "kind": "AWSMachineTemplate", "name": pool},
					},
				},
			}),
		)
	}
	return out, nil
}

// kubeletArgs turns a pool's labels, GPU product and taints into the
// kubelet's --node-labels and --register-with-taints.
func kubeletArgs(p mgmtv1.NodePool) map[string]any {
	args := map[string]any{}
	labels := map[string]string{"bokujo.io/node-pool": p.Name}
	for k, v := range p.Labels {
		labels[k] = v
	}
	if p.GPUProduct != "" {
		labels["nvidia.com/gpu.product"] = p.GPUProduct
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	pairs := make([]string, 0, len(keys))
	for _, k := range keys {
		pairs = append(pairs, k+"="+labels[k])
	}
	args["node-labels"] = strings.Join(pairs, ",")
	if len(p.Taints) > 0 {
		taints := make([]string, 0, len(p.Taints))
		for _, t := range p.Taints {
			taints = append(taints, t.Key+"="+t.Value+":"+string(t.Effect))
		}
		args["register-with-taints"] = strings.Join(taints, ",")
	}
	return args
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
