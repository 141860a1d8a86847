package azure

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
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
		if err := c.o.Sleep(ctx, d); err != nil {
			return err
		}
		d = min(2*d, 8*c.o.ConflictWait)
	}
}

// retryPolicy sends a request again after an answer of one of
// StatusCodes (408, 429 and 5xx by default) or after no answer at all, as
// azcore's retry policy does: exponential backoff from RetryDelay with
// jitter, capped at MaxRetryDelay, or the pause Azure asks for in
// Retry-After when it is within MaxRetryDelay (a longer one returns the
// answer, which explain turns into "run again later"). It is dhub's own so
// that every pause goes through Options.Sleep, where a test sees the pause
// asked for; azcore's policy is left one try. TryTimeout is not used.
type retryPolicy struct {
	o     policy.RetryOptions
	sleep func(context.Context, time.Duration) error
	now   func() time.Time
}

// nonRetriable is how azcore marks an error no retry can mend (a
// credential that cannot get a token, a body that failed to download).
type nonRetriable interface {
	error
	NonRetriable()
}

// newRetryPolicy fills in o's zero fields with azcore's defaults.
func newRetryPolicy(o policy.RetryOptions, sleep func(context.Context, time.Duration) error, now func() time.Time) *retryPolicy {
	switch {
	case o.MaxRetries == 0:
		o.MaxRetries = 3
	case o.MaxRetries < 0:
		o.MaxRetries = 0
	}
	switch {
	case o.MaxRetryDelay == 0:
		o.MaxRetryDelay = time.Minute
	case o.MaxRetryDelay < 0:
		o.MaxRetryDelay = math.MaxInt64
	}
	switch {
	case o.RetryDelay == 0:
		o.RetryDelay = 800 * time.Millisecond
	case o.RetryDelay < 0:
		o.RetryDelay = 0
	}
	if o.StatusCodes == nil {
		o.StatusCodes = []int{http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}
	}
	return &retryPolicy{o: o, sleep: sleep, now: now}
}

// Do sends req, and again while the answer says to and tries are left.
func (p *retryPolicy) Do(req *policy.Request) (*http.Response, error) {
	ctx := req.Raw().Context()
	for try := 1; ; try++ {
		if err := req.RewindBody(); err != nil {
			return nil, err
		}
		resp, err := req.Clone(ctx).Next()
		if ctx.Err() != nil {
			return resp, ctx.Err()
		}
		var nre nonRetriable
		if errors.As(err, &nre) {
			return resp, err
		}
		if p.o.ShouldRetry != nil {
			if !p.o.ShouldRetry(resp, err) {
				return resp, err
			}
		} else if err == nil && !runtime.HasStatusCode(resp, p.o.StatusCodes...) {
			return resp, nil
		}
		if try > int(p.o.MaxRetries) {
			return resp, err
		}
		d := p.retryAfter(resp)
		if d > p.o.MaxRetryDelay {
			return resp, err
		}
		if d <= 0 {
			d = p.backoff(try)
		}
		runtime.Drain(resp)
		if err := p.sleep(ctx, d); err != nil {
			return nil, err
		}
	}
}

// backoff is the pause before try+1: (2^try - 1) RetryDelay, times a
// jitter in [0.8, 1.3), at most MaxRetryDelay.
func (p *retryPolicy) backoff(try int) time.Duration {
	d := float64(p.o.RetryDelay) * (math.Exp2(float64(try)) - 1) * (0.8 + rand.Float64()/2)
	if d >= float64(p.o.MaxRetryDelay) {
		return p.o.MaxRetryDelay
	}
	return time.Duration(d)
}

// retryAfter is the pause an answer asks for, from the headers azcore
// reads, in its order: retry-after-ms, x-ms-retry-after-ms, then
// Retry-After in seconds or as an HTTP date; 0 when it asks for none.
func (p *retryPolicy) retryAfter(resp *http.Response) time.Duration {
	if resp == nil {
		return 0
	}
	for _, h := range []string{"retry-after-ms", "x-ms-retry-after-ms"} {
		if n, err := strconv.Atoi(resp.Header.Get(h)); err == nil && n > 0 {
			return time.Duration(n) * time.Millisecond
		}
	}
	v := resp.Header.Get("Retry-After")
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := time.Parse(time.RFC1123, v); err == nil {
		return t.Sub(p.now())
	}
	return 0
}
