package b24

import (
	"context"
	"log/slog"
	"time"
)

// boundReset caps the operating_reset_at of an answer's time block: no
// operating block lasts longer than the portal's window (that of
// [WithOperatingLimit], 10 minutes by default), so a reset further ahead
// of the answer's own finish (in the portal's clock) is a broken reading
// that would hold the method for hours. The clamp is logged. rt itself is
// not modified.
func (c *Client) boundReset(ctx context.Context, method string, rt *ResponseTime) *ResponseTime {
	if rt == nil || rt.OperatingResetAt.IsZero() || c.opWindow <= 0 {
		return rt
	}
	var base time.Time
	switch stamp := max(rt.Finish, rt.Start); {
	case stamp > 0:
		base = time.Unix(0, int64(stamp*1e9))
	default:
		base = c.now()
	}
	limit := base.Add(c.opWindow)
	if !rt.OperatingResetAt.After(limit) {
		return rt
	}
	c.log.LogAttrs(ctx, slog.LevelWarn, "b24: the portal's operating_reset_at is further ahead than the operating window; clamped to the window",
		slog.String("method", method), slog.Duration("ahead", rt.OperatingResetAt.Sub(base).Round(time.Second)),
		slog.Duration("window", c.opWindow))
	clamped := *rt
	clamped.OperatingResetAt = limit
	return &clamped
}
