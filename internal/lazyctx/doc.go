// Package lazyctx is a cancellable context.Context that costs its owner a
// few words until something waits on it: context.WithCancel allocates its
// state and registers it with its parent at once, which for a broker
// holding a context per idle connection was about 90 bytes each, though
// few Authenticators or Authorizers ever wait on one.
package lazyctx
