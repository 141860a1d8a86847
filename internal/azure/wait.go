package azure

import (
	"context"
	"fmt"
	"time"

	"dhub/internal/config"
)

// waitCluster waits until no operation runs on the cluster (or it is gone).
func (c *Client) waitCluster(ctx context.Context, a config.Azure) error {
	resource := KindCluster + " " + a.ClusterName
	return c.waitUntil(ctx, resource, func() (string, bool, error) {
		mc, err := c.clusters.Get(ctx, a.ResourceGroup, a.ClusterName, nil)
		if isNotFound(err) {
			return "", true, nil
		}
		if err != nil || mc.Properties == nil {
			return "", false, err
		}
		return deref(mc.Properties.ProvisioningState), false, nil
	}, terminal)
}

// waitPool waits until no operation runs on the pool (or it is gone).
func (c *Client) waitPool(ctx context.Context, a config.Azure, name string) error {
	resource := KindPool + " " + name
	return c.waitUntil(ctx, resource, func() (string, bool, error) {
		ap, err := c.pools.Get(ctx, a.ResourceGroup, a.ClusterName, name, nil)
		if isNotFound(err) {
			return "", true, nil
		}
		if err != nil || ap.Properties == nil {
			return "", false, err
		}
		return deref(ap.Properties.ProvisioningState), false, nil
	}, terminal)
}

// waitUntil reads a resource every PollFrequency until done(state) or it is
// gone, for at most WaitTimeout, reporting progress. It is how dhub waits
// for an operation it did not start (an earlier, interrupted run's).
func (c *Client) waitUntil(ctx context.Context, resource string, read func() (state string, gone bool, err error), done func(string) bool) error {
	start := c.o.Now()
	last, lastPrint := "", start
	for {
		state, gone, err := read()
		if err != nil {
			return err
		}
		if gone || done(state) {
			if last != "" {
				fmt.Fprintf(c.o.Progress, "%s: %s after %s\n", resource, orDefault(state, "gone"), c.since(start))
			}
			return nil
		}
		now := c.o.Now()
		if state != last || now.Sub(lastPrint) >= c.o.ProgressEvery {
			fmt.Fprintf(c.o.Progress, "%s: %s (an operation already running), waiting, %s\n", resource, state, c.since(start))
			last, lastPrint = state, now
		}
		if now.Sub(start) > c.o.WaitTimeout {
			return fmt.Errorf("%s: still %s after %s; run 'dhub up' again later", resource, state, c.since(start))
		}
		if err := c.o.Sleep(ctx, c.o.PollFrequency); err != nil {
			return err
		}
	}
}

// since is the time elapsed from t on the client's clock, rounded for a
// progress line.
func (c *Client) since(t time.Time) string {
	d := c.o.Now().Sub(t)
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// sleep pauses for d, or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
