//go:build !unix

package broker

import (
	"log/slog"

	"github.com/midge-mqtt/midge/internal/config"
)

// prepareForUser does nothing: without Unix users the broker drops no
// privileges.
func prepareForUser(string, string, *config.Result, *slog.Logger) {}
