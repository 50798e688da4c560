//go:build !unix

package plugin

// pollable is a no-op where the gateway's sandbox does not run: the channel is read as it is.
func pollable(int) {}
