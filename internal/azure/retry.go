package azure

import (
	"context"
	"fmt"
	"time"
)

// retryBusy calls f again while Azure answers that another operation is in
// progress on the resource (409 OperationNotAllowed), waiting ConflictWait
// and then twice as long each time, up to WaitTimeout. Throttling (429)
// and server errors (5xx) are retried below, by the pipeline's retry policy.
func (c *Client) retryBusy(ctx context.Context, resource string, f func() error) error {
	start := c.o.Now()
	d := c.o.ConflictWait
	for {
		err := f()
		if err == nil || !isBusy(err) {
			return err
		}
		if c.o.Now().Sub(start) > c.o.WaitTimeout {
			return err
		}
		_, code, _, _ := responseError(err)
		fmt.Fprintf(c.o.Progress, "%s: another operation is in progress (%s); trying again in %s\n", resource, code, d.Round(time.Millisecond))
		if err := sleep(ctx, d); err != nil {
			return err
		}
		d = min(2*d, 8*c.o.ConflictWait)
	}
}
