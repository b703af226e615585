//go:build !unix

package broker

import (
	"log/slog"

	"github.com/midge-mqtt/midge/internal/config"
	"github.com/midge-mqtt/midge/internal/logging"
)

// absentLogFile returns "": without Unix users no file changes hands.
func absentLogFile(logging.Options) string { return "" }

// prepareForUser does nothing: without Unix users the broker drops no
// privileges.
func prepareForUser(string, string, *config.Result, string, *slog.Logger) {}
