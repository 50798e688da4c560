package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	pgw "github.com/veza/plugin-gateway/sdk/go"
)

// startPGW starts a plugin on the gateway's protocol as the gateway does (a socket at fd 3, `hello`,
// `start`), without the sandbox, and sends each call as a `task`, matching `result` notes by slot.
func startPGW(path string) (*caller, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	hostFile, childFile := os.NewFile(uintptr(fds[0]), "host"), os.NewFile(uintptr(fds[1]), "child")
	conn, err := net.FileConn(hostFile)
	hostFile.Close()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path)
	cmd.ExtraFiles = []*os.File{childFile}
	cmd.Env = pluginEnv()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	childFile.Close()
	in := bufio.NewReader(conn)
	if _, err := pgw.ReadFrame(in, 1<<20); err != nil { // hello
		return nil, err
	}
	var writing sync.Mutex
	send := func(m map[string]any) error {
		frame, err := pgw.EncodeFrame(m)
		if err != nil {
			return err
		}
		writing.Lock()
		defer writing.Unlock()
		_, err = conn.Write(frame)
		return err
	}
	if err := send(map[string]any{"ctl": "start", "v": 1, "data": map[string]any{
		"name": "echo", "version": "1.0.0", "maxResponseBytes": 1 << 20, "logLinesPerSecond": 100,
	}}); err != nil {
		return nil, err
	}
	var mu sync.Mutex
	waiting := map[int64]chan map[string]any{}
	free := make(chan int64, 256)
	for s := range int64(256) {
		free <- s
	}
	go func() {
		for {
			v, err := pgw.ReadFrame(in, 1<<20)
			if err != nil {
				return
			}
			m, _ := v.(map[string]any)
			if m["pgw"] != "result" {
				continue
			}
			slot, _ := m["s"].(int64)
			mu.Lock()
			answer := waiting[slot]
			delete(waiting, slot)
			mu.Unlock()
			if answer != nil {
				answer <- m
			}
		}
	}()
	var seq int64
	var seqMu sync.Mutex
	return &caller{
		pid: cmd.Process.Pid,
		call: func() error {
			slot := <-free
			defer func() { free <- slot }()
			seqMu.Lock()
			seq++
			id := fmt.Sprint(seq)
			seqMu.Unlock()
			answer := make(chan map[string]any, 1)
			mu.Lock()
			waiting[slot] = answer
			mu.Unlock()
			if err := send(map[string]any{"ctl": "task", "task": map[string]any{
				"t": "req", "k": "POST /echo", "s": slot, "d": time.Now().Add(time.Minute).UnixMilli(), "r": request(id),
			}}); err != nil {
				return err
			}
			select {
			case m := <-answer:
				r, _ := m["r"].(map[string]any)
				if r["statusCode"] != int64(200) {
					return fmt.Errorf("answered %v", m)
				}
				return nil
			case <-time.After(10 * time.Second):
				return fmt.Errorf("no answer in 10 s")
			}
		},
		stop: func() {
			_ = send(map[string]any{"ctl": "stop"})
			conn.Close()
			_ = cmd.Wait()
		},
	}, nil
}
