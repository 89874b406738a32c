package helm

import (
	"time"

	releasecommon "helm.sh/helm/v4/pkg/release/common"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
)

// LeavePending makes the newest revision of name look like a client
// stopped during an upgrade that long ago.
func (c *Client) LeavePending(name string, ago time.Duration) error {
	last, err := c.cfg.Releases.Last(name)
	if err != nil {
		return err
	}
	rel := last.(*releasev1.Release)
	rel.Info.Status = releasecommon.StatusPendingUpgrade
	rel.Info.LastDeployed = time.Now().Add(-ago)
	return c.cfg.Releases.Update(rel)
}
