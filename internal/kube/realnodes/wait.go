package realnodes

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// permanentError ends a wait at once: the condition can no longer come true.
type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

func permanent(err error) error { return permanentError{err} }

// waitFor polls check until it returns nil, returns a permanent error, ctx
// ends or bound passes; the error then names what was awaited and the last
// reason it was not there yet.
func (c *Cluster) waitFor(ctx context.Context, what string, bound time.Duration, check func() error) error {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	for {
		err := check()
		if err == nil {
			return nil
		}
		var p permanentError
		if errors.As(err, &p) {
			return fmt.Errorf("realnodes: waiting for %s: %w", what, p.err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("realnodes: %s not there within %s: %w (last: %v)", what, bound, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
