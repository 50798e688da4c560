// Command driver compares the gateway's plugin protocol with HashiCorp go-plugin (gRPC), the same echo
// handler behind each (echo-pgw, echo-grpc), both driven from this one Go host process without a
// sandbox, alternating over rounds: sequential p50 and mean, CPU per request of the host and of the
// plugin, throughput with 64 requests in flight. Medians over rounds are printed as a Markdown table.
//
//	driver -pgw ./echo-pgw -grpc ./echo-grpc [-rounds 5] [-sequential 3000] [-throughput 1500ms] [-procs 1]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/veza/plugin-gateway/bench/goplugin/shared"
	"google.golang.org/protobuf/types/known/structpb"
)

// request is bench/runtime-variant.ts's request.
func request(id string) map[string]any {
	return map[string]any{
		"id": id, "method": "POST", "path": "/echo",
		"headers": map[string]any{"content-type": "application/json"}, "params": map[string]any{}, "query": map[string]any{},
		"body": map[string]any{"userId": 456, "trackIds": []any{101, 202, 303, 404}, "context": map[string]any{"device": "web"}},
	}
}

// caller is one running plugin: call sends one request and waits for its answer.
type caller struct {
	call func() error
	pid  int
	stop func()
}

var procs int

// pluginEnv is the plugins' environment: this one's, and the same GOMAXPROCS for both.
func pluginEnv() []string { return append(os.Environ(), fmt.Sprintf("GOMAXPROCS=%d", procs)) }

type sample struct{ p50, mean, hostCPU, pluginCPU, rps float64 }

func main() {
	pgwPath := flag.String("pgw", "", "the echo-pgw binary")
	grpcPath := flag.String("grpc", "", "the echo-grpc binary")
	rounds := flag.Int("rounds", 5, "rounds")
	sequential := flag.Int("sequential", 3000, "sequential requests per round")
	throughput := flag.Duration("throughput", 1500*time.Millisecond, "throughput phase per round")
	flag.IntVar(&procs, "procs", 1, "GOMAXPROCS of both plugins (the gateway gives resources.cpu, rounded up)")
	flag.Parse()
	starts := map[string]func() (*caller, error){
		"plugin protocol (sdk/go)": func() (*caller, error) { return startPGW(*pgwPath) },
		"go-plugin (gRPC)":         func() (*caller, error) { return startGRPC(*grpcPath) },
	}
	order := []string{"plugin protocol (sdk/go)", "go-plugin (gRPC)"}
	samples := map[string][]sample{}
	for r := 0; r < *rounds; r++ {
		for _, name := range order {
			c, err := starts[name]()
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
				os.Exit(1)
			}
			s, err := measure(c, *sequential, *throughput)
			c.stop()
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
				os.Exit(1)
			}
			samples[name] = append(samples[name], s)
		}
	}
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("load average at the end: %s\n", strings.Join(strings.Fields(string(load))[:3], " "))
	fmt.Println("| protocol | sequential p50 µs | mean µs | CPU per request µs (host / plugin) | req/s at 64 in flight |")
	fmt.Println("| --- | --- | --- | --- | --- |")
	for _, name := range order {
		m := func(f func(sample) float64) float64 {
			v := []float64{}
			for _, s := range samples[name] {
				v = append(v, f(s))
			}
			sort.Float64s(v)
			if len(v)%2 == 1 {
				return v[len(v)/2]
			}
			return (v[len(v)/2-1] + v[len(v)/2]) / 2
		}
		fmt.Printf("| %s | %.0f | %.0f | %.0f / %.0f | %.0f |\n", name,
			m(func(s sample) float64 { return s.p50 }), m(func(s sample) float64 { return s.mean }),
			m(func(s sample) float64 { return s.hostCPU }), m(func(s sample) float64 { return s.pluginCPU }),
			m(func(s sample) float64 { return s.rps }))
	}
}

func measure(c *caller, sequential int, throughput time.Duration) (sample, error) {
	for i := 0; i < 200; i++ { // warm up
		if err := c.call(); err != nil {
			return sample{}, err
		}
	}
	latencies := make([]float64, sequential)
	hostBefore, pluginBefore := selfCPU(), pidCPU(c.pid)
	began := time.Now()
	for i := range latencies {
		t := time.Now()
		if err := c.call(); err != nil {
			return sample{}, err
		}
		latencies[i] = float64(time.Since(t).Microseconds())
	}
	total := time.Since(began)
	s := sample{
		mean:      float64(total.Microseconds()) / float64(sequential),
		hostCPU:   float64((selfCPU() - hostBefore).Microseconds()) / float64(sequential),
		pluginCPU: float64((pidCPU(c.pid) - pluginBefore).Microseconds()) / float64(sequential),
	}
	sort.Float64s(latencies)
	s.p50 = latencies[len(latencies)/2]
	var done atomic.Int64
	var failed atomic.Value
	end := time.Now().Add(throughput)
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				if err := c.call(); err != nil {
					failed.Store(err)
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return sample{}, err
	}
	s.rps = float64(done.Load()) / throughput.Seconds()
	return s, nil
}

func selfCPU() time.Duration {
	var u syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &u)
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// pidCPU is a process's user + system time from /proc (clock ticks of 10 ms).
func pidCPU(pid int) time.Duration {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	var utime, stime int64
	fmt.Sscan(fields[11], &utime)
	fmt.Sscan(fields[12], &stime)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

func startGRPC(path string) (*caller, error) {
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  shared.Handshake,
		Plugins:          map[string]plugin.Plugin{"echo": &shared.EchoPlugin{}},
		Cmd:              &exec.Cmd{Path: path, Args: []string{path}, Env: pluginEnv()},
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Output: io.Discard, Level: hclog.Off}),
	})
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		return nil, err
	}
	raw, err := rpc.Dispense("echo")
	if err != nil {
		client.Kill()
		return nil, err
	}
	echo := raw.(*shared.EchoClient)
	var seq atomic.Int64
	return &caller{
		pid: client.ReattachConfig().Pid,
		call: func() error {
			req, err := structpb.NewStruct(request(fmt.Sprint(seq.Add(1))))
			if err != nil {
				return err
			}
			res, err := echo.Handle(context.Background(), req)
			if err != nil {
				return err
			}
			if res.AsMap()["statusCode"] != float64(200) {
				return fmt.Errorf("answered %v", res.AsMap())
			}
			return nil
		},
		stop: client.Kill,
	}, nil
}
