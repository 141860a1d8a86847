package cli

import (
	"context"

	"dhub/internal/config"
	"dhub/internal/plan"
)

// The kubernetes target's verbs.

func kubernetesPlan(ctx context.Context, h *config.Hub, s Streams) (*plan.Plan, error) {
	return nil, notYet("plan", h.Target)
}

func kubernetesUp(ctx context.Context, h *config.Hub, o *upOptions, s Streams) error {
	return notYet("up", h.Target)
}

func kubernetesDown(ctx context.Context, h *config.Hub, o *downOptions, s Streams) error {
	return notYet("down", h.Target)
}

func kubernetesStatus(ctx context.Context, h *config.Hub, o *statusOptions, s Streams) error {
	return notYet("status", h.Target)
}
