package cli

import (
	"context"

	"dhub/internal/config"
	"dhub/internal/plan"
)

// The azure target's verbs.

func azurePlan(ctx context.Context, h *config.Hub, s Streams) (*plan.Plan, error) {
	return nil, notYet("plan", h.Target)
}

func azureUp(ctx context.Context, h *config.Hub, o *upOptions, s Streams) error {
	return notYet("up", h.Target)
}

func azureDown(ctx context.Context, h *config.Hub, o *downOptions, s Streams) error {
	return notYet("down", h.Target)
}

func azureStatus(ctx context.Context, h *config.Hub, o *statusOptions, s Streams) error {
	return notYet("status", h.Target)
}
