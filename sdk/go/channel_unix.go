//go:build unix

package plugin

import "syscall"

// pollable puts the channel in non-blocking mode before os.NewFile sees it, so that reads and writes
// wait in Go's network poller: a read that waits parks its goroutine and frees its thread for the
// handler, where a blocking read would hold the thread (and its P) in a system call until the
// scheduler's monitor takes the P back, tens of microseconds to milliseconds later.
func pollable(fd int) { _ = syscall.SetNonblock(fd, true) }
