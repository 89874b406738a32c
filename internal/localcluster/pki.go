package localcluster

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"bokujo.io/bokujo/internal/pki"
)

// Identities of the components; the apiserver's RBAC bootstrap policy grants
// the controller-manager and scheduler users their rights.
const (
	adminUser   = "bokujo-admin"
	mastersOrg  = "system:masters"
	kcmUser     = "system:kube-controller-manager"
	schedUser   = "system:kube-scheduler"
	kwokUser    = "system:kwok-controller"
	kubeletUser = "kube-apiserver-kubelet-client"
)

// ensurePKI writes the cluster's certificates once; later starts reuse them.
func ensurePKI(dir string) error {
	pkiDir := filepath.Join(dir, "pki")
	if _, err := os.Stat(filepath.Join(pkiDir, "done")); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("check pki: %w", err)
	}
	if err := os.MkdirAll(pkiDir, 0o700); err != nil {
		return fmt.Errorf("create pki dir: %w", err)
	}
	ca, err := pki.NewCA("bokujo-local-ca-" + filepath.Base(dir))
	if err != nil {
		return err
	}
	if err := ca.Write(pkiDir, "ca"); err != nil {
		return err
	}
	loopback := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1"), net.ParseIP("10.96.0.1")}
	certs := map[string]pki.Spec{
		"apiserver": {CommonName: "kube-apiserver", Server: true, IPs: loopback,
			DNSNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}},
		"etcd-server":        {CommonName: "etcd", Server: true, Client: true, IPs: loopback, DNSNames: []string{"localhost"}},
		"etcd-client":        {CommonName: "kube-apiserver-etcd-client", Client: true},
		"admin":              {CommonName: adminUser, Organization: []string{mastersOrg}, Client: true},
		"controller-manager": {CommonName: kcmUser, Client: true},
		"scheduler":          {CommonName: schedUser, Client: true},
		// kwok writes node and pod status for every simulated node and pod;
		// it is a stand-in for all kubelets, so it gets the masters group.
		"kwok":           {CommonName: kwokUser, Organization: []string{mastersOrg}, Client: true},
		"kwok-serving":   {CommonName: "kwok", Server: true, IPs: loopback, DNSNames: []string{"localhost"}},
		"kubelet-client": {CommonName: kubeletUser, Organization: []string{mastersOrg}, Client: true},
	}
	for name, spec := range certs {
		kp, err := ca.Issue(spec)
		if err != nil {
			return err
		}
		if err := kp.Write(pkiDir, name); err != nil {
			return err
		}
	}
	saKey, err := pki.NewKey()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(pkiDir, "sa.key"), saKey, 0o600); err != nil {
		return fmt.Errorf("write service-account key: %w", err)
	}
	return os.WriteFile(filepath.Join(pkiDir, "done"), nil, 0o600)
}
