// The ADR's Advanced Analytics plugin as a wasm plugin in Go: plays, skips, unique listeners and
// median listening time per track, from track.* events. State lives in the instance (one per thread
// of the plugin's pool), as the JavaScript plugin keeps it per worker thread.
package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/veza/plugin-gateway/wasm/pgw"
)

type trackStats struct {
	plays, skips int
	listeners    map[string]bool
	seconds      []float64
}

var stats = map[int]*trackStats{}

func statsOf(trackID int) *trackStats {
	s, ok := stats[trackID]
	if !ok {
		s = &trackStats{listeners: map[string]bool{}}
		stats[trackID] = s
	}
	return s
}

type summary struct {
	TrackID               int     `json:"trackId"`
	Title                 string  `json:"title"`
	Plays                 int     `json:"plays"`
	Skips                 int     `json:"skips"`
	SkipRate              float64 `json:"skipRate"`
	UniqueListeners       int     `json:"uniqueListeners"`
	MedianSecondsListened float64 `json:"medianSecondsListened"`
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

func summarize(trackID int) summary {
	s := statsOf(trackID)
	rate := 0.0
	if total := s.plays + s.skips; total > 0 {
		rate = float64(int(float64(s.skips)/float64(total)*100+0.5)) / 100
	}
	return summary{trackID, titles[trackID], s.plays, s.skips, rate, len(s.listeners), median(s.seconds)}
}

type trackEvent struct {
	TrackID json.RawMessage `json:"trackId"`
	Seconds *float64        `json:"seconds"`
}

func onEvent(event *pgw.Event) error {
	var p trackEvent
	if len(event.Payload) == 0 || json.Unmarshal(event.Payload, &p) != nil {
		return nil
	}
	trackID, err := strconv.Atoi(string(p.TrackID))
	if _, known := titles[trackID]; err != nil || !known {
		return nil
	}
	s := statsOf(trackID)
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
	if p.Seconds != nil {
		s.seconds = append(s.seconds, *p.Seconds)
	}
	return nil
}

func track(req *pgw.Request) (*pgw.Response, error) {
	trackID, err := strconv.Atoi(req.Params["track_id"])
	if _, known := titles[trackID]; err != nil || !known {
		return pgw.JSON(404, map[string]string{"error": "unknown track " + req.Params["track_id"]}), nil
	}
	return pgw.JSON(200, summarize(trackID)), nil
}

func top(req *pgw.Request) (*pgw.Response, error) {
	limit := 3
	if n, err := strconv.Atoi(req.QueryValue("limit")); err == nil {
		limit = n
	}
	limit = min(10, max(1, limit))
	all := make([]summary, 0, len(stats))
	for id := range stats {
		all = append(all, summarize(id))
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Plays != all[j].Plays {
			return all[i].Plays > all[j].Plays
		}
		if all[i].SkipRate != all[j].SkipRate {
			return all[i].SkipRate < all[j].SkipRate
		}
		return all[i].TrackID < all[j].TrackID
	})
	return pgw.JSON(200, all[:min(limit, len(all))]), nil
}

// catalog streams the catalog as Server-Sent Events, one track per event in id order, resuming after
// the client's Last-Event-ID. A stream has an instance of its own (docs/wasm-plugins.md, "Streams"):
// it serves what every instance knows, not the counts one instance gathered from events.
func catalog(req *pgw.Request) (*pgw.Response, error) {
	after, _ := strconv.Atoi(req.LastEventID())
	ids := make([]int, 0, len(titles))
	for id := range titles {
		if id > after {
			ids = append(ids, id)
		}
	}
	sort.Ints(ids)
	sse, err := pgw.StartSSE()
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		data, _ := json.Marshal(map[string]any{"trackId": id, "title": titles[id]})
		if err := sse.Send("track", strconv.Itoa(id), string(data)); err != nil {
			return nil, nil // the client went away: nothing more to say
		}
	}
	return nil, nil
}

var routes = pgw.Routes{
	"GET /analytics/tracks/{track_id}": track,
	"GET /analytics/top":               top,
	"GET /analytics/catalog/stream":    catalog,
}

//go:wasmexport handle
func handle() int32 { return pgw.Serve(routes) }

//go:wasmexport handle_event
func handleEvent() int32 { return pgw.ServeEvent(onEvent) }

func main() {}
