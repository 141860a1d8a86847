package azure

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// startAndWait starts a long-running operation on resource, trying again
// while Azure answers that another one runs on it, and waits for it to end.
func startAndWait[T any](ctx context.Context, c *Client, resource, verb string, start func() (*runtime.Poller[T], error)) error {
	var poller *runtime.Poller[T]
	err := c.retryBusy(ctx, resource, func() error {
		var err error
		poller, err = start()
		return err
	})
	if err != nil {
		return err
	}
	_, err = waitLRO(ctx, c, poller, resource, verb)
	return err
}

// waitLRO polls a long-running operation until it ends, reporting its state
// and the elapsed time on Progress, then returns its result.
func waitLRO[T any](ctx context.Context, c *Client, p *runtime.Poller[T], resource, verb string) (T, error) {
	start := c.o.Now()
	fmt.Fprintf(c.o.Progress, "%s: %s accepted by Azure\n", resource, verb)
	last, lastPrint := "", start
	for !p.Done() {
		d := c.o.PollFrequency
		resp, err := p.Poll(ctx)
		if err != nil {
			var zero T
			return zero, err
		}
		state := lroState(resp)
		if ra := retryAfter(resp); ra > d {
			d = ra
		}
		now := c.o.Now()
		if state != last || now.Sub(lastPrint) >= c.o.ProgressEvery {
			fmt.Fprintf(c.o.Progress, "%s: %s %s, %s\n", resource, verb, state, c.since(start))
			last, lastPrint = state, now
		}
		if p.Done() {
			break
		}
		if err := c.o.Sleep(ctx, d); err != nil {
			var zero T
			return zero, err
		}
	}
	res, err := p.Result(ctx)
	if err == nil {
		fmt.Fprintf(c.o.Progress, "%s: %s done in %s\n", resource, verb, c.since(start))
	}
	return res, err
}

// lroState is the status an operation's poll answer carries ("InProgress",
// "Succeeded", ...), or "in progress" when it carries none.
func lroState(resp *http.Response) string {
	if resp == nil {
		return "in progress"
	}
	if body, err := runtime.Payload(resp); err == nil && len(body) > 0 {
		var s struct {
			Status     string `json:"status"`
			Properties struct {
				ProvisioningState string `json:"provisioningState"`
			} `json:"properties"`
		}
		if json.Unmarshal(body, &s) == nil {
			if s.Status != "" {
				return s.Status
			}
			if s.Properties.ProvisioningState != "" {
				return s.Properties.ProvisioningState
			}
		}
	}
	return "in progress"
}

// retryAfter is the Retry-After (in seconds) of a poll answer, capped at a minute.
func retryAfter(resp *http.Response) time.Duration {
	if resp == nil {
		return 0
	}
	n, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || n <= 0 {
		return 0
	}
	return min(time.Duration(n)*time.Second, time.Minute)
}
