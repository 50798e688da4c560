// Command advanced-analytics counts plays, skips and listening time per track from domain events,
// and serves them: the ADR's Advanced Analytics plugin as a native Go plugin.
package main

import (
	"fmt"
	"sort"
	"strconv"
	"sync"

	plugin "github.com/veza/plugin-gateway/sdk/go"
)

// titles is the examples' catalog (examples/data/catalog.js), by track id.
var titles = map[int64]string{
	101: "Midnight Drive", 102: "Chrome Hearts", 103: "Low Tide", 104: "Glass Garden", 105: "Brass Parade",
	106: "Blue Hour", 107: "Overdrive", 108: "Paper Planes", 109: "Sunday Sketch", 110: "Tape Hiss",
}

type trackStats struct {
	plays, skips int
	listeners    map[string]bool
	seconds      []float64
}

type analytics struct {
	mu    sync.Mutex
	stats map[int64]*trackStats
}

func (a *analytics) of(id int64) *trackStats {
	s := a.stats[id]
	if s == nil {
		s = &trackStats{listeners: map[string]bool{}}
		a.stats[id] = s
	}
	return s
}

func median(values []float64) float64 {
	if len(values) == 0 {
		return 0
	}
	sorted := append([]float64(nil), values...)
	sort.Float64s(sorted)
	mid := len(sorted) / 2
	if len(sorted)%2 == 1 {
		return sorted[mid]
	}
	return (sorted[mid-1] + sorted[mid]) / 2
}

func (a *analytics) summary(id int64) map[string]any {
	s := a.of(id)
	total := s.plays + s.skips
	skipRate := 0.0
	if total > 0 {
		skipRate = float64(int(float64(s.skips)/float64(total)*100+0.5)) / 100
	}
	return map[string]any{
		"trackId": id, "title": titles[id], "plays": s.plays, "skips": s.skips, "skipRate": skipRate,
		"uniqueListeners": len(s.listeners), "medianSecondsListened": median(s.seconds),
	}
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

func (a *analytics) handleEvent(_ *plugin.Context, event plugin.Event) error {
	payload, _ := event.Payload.(map[string]any)
	raw, _ := number(payload["trackId"])
	id := int64(raw)
	if _, known := titles[id]; !known {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.of(id)
	switch event.Type {
	case "track.played":
		s.plays++
	case "track.skipped":
		s.skips++
	default:
		return nil
	}
	if event.UserID != nil {
		s.listeners[fmt.Sprint(event.UserID)] = true
	}
	if seconds, ok := number(payload["seconds"]); ok {
		s.seconds = append(s.seconds, seconds)
	}
	return nil
}

func (a *analytics) track(_ *plugin.Context, req *plugin.Request) (*plugin.Response, error) {
	id, err := strconv.ParseInt(req.Params["track_id"], 10, 64)
	if _, known := titles[id]; err != nil || !known {
		return plugin.JSON(404, map[string]any{"error": "unknown track " + req.Params["track_id"]}), nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return plugin.JSON(200, a.summary(id)), nil
}

func (a *analytics) top(_ *plugin.Context, req *plugin.Request) (*plugin.Response, error) {
	limit := 3
	if q, ok := req.Query["limit"].(string); ok {
		if n, err := strconv.Atoi(q); err == nil {
			limit = min(10, max(1, n))
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	top := make([]map[string]any, 0, len(a.stats))
	for id := range a.stats {
		top = append(top, a.summary(id))
	}
	sort.Slice(top, func(i, j int) bool {
		if top[i]["plays"] != top[j]["plays"] {
			return top[i]["plays"].(int) > top[j]["plays"].(int)
		}
		return top[i]["skipRate"].(float64) < top[j]["skipRate"].(float64)
	})
	return plugin.JSON(200, top[:min(limit, len(top))]), nil
}

func main() {
	a := &analytics{stats: map[int64]*trackStats{}}
	plugin.Serve(&plugin.Plugin{
		Routes: map[string]plugin.Handler{
			"GET /analytics/tracks/{track_id}": a.track,
			"GET /analytics/top":               a.top,
		},
		HandleEvent: a.handleEvent,
	})
}
