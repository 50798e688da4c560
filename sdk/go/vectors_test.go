package plugin

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

type vector struct {
	Name          string `json:"name"`
	Hex           string `json:"hex"`
	Value         any    `json:"value"`
	Values        []any  `json:"values"`
	Error         string `json:"error"`
	MaxFrameBytes uint32 `json:"maxFrameBytes"`
}

func loadVectors(t *testing.T) (good, bad []vector) {
	t.Helper()
	text, err := os.ReadFile(filepath.Join("..", "..", "test", "protocol-vectors", "frames.json"))
	if err != nil {
		t.Fatalf("the shared vectors: %v", err)
	}
	var file struct {
		Frames, Also, Bad []vector
	}
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	if err := dec.Decode(&file); err != nil {
		t.Fatal(err)
	}
	return append(file.Frames, file.Also...), file.Bad
}

// fromJSON turns the vectors' JSON form into what ReadFrame gives: {"$bin": hex} as []byte, numbers
// as int64, uint64 or float64.
func fromJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if b, ok := x["$bin"].(string); ok && len(x) == 1 {
			out, _ := hex.DecodeString(b)
			return out
		}
		out := map[string]any{}
		for k, item := range x {
			out[k] = fromJSON(item)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, item := range x {
			out[i] = fromJSON(item)
		}
		return out
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	}
	return v
}

// same compares decoded values, an unsigned integer equal to a signed one as equal.
func same(a, b any) bool {
	if u, ok := a.(uint64); ok {
		a = int64(u)
	}
	if u, ok := b.(uint64); ok {
		b = int64(u)
	}
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k := range x {
			if !same(x[k], y[k]) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !same(x[i], y[i]) {
				return false
			}
		}
		return true
	case float32:
		return float64(x) == b
	}
	return reflect.DeepEqual(a, b)
}

func TestVectorsDecode(t *testing.T) {
	good, _ := loadVectors(t)
	for _, v := range good {
		t.Run(v.Name, func(t *testing.T) {
			stream, _ := hex.DecodeString(v.Hex)
			want := v.Values
			if want == nil {
				want = []any{v.Value}
			}
			r := bytes.NewReader(stream)
			for _, w := range want {
				got, err := ReadFrame(r, 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				if !same(got, fromJSON(w)) {
					t.Fatalf("got %#v, want %#v", got, fromJSON(w))
				}
			}
			if r.Len() != 0 {
				t.Fatalf("%d bytes left", r.Len())
			}
		})
	}
}

func TestVectorsRoundTrip(t *testing.T) {
	good, _ := loadVectors(t)
	for _, v := range good {
		if v.Value == nil {
			continue
		}
		value := fromJSON(v.Value)
		frame, err := EncodeFrame(value)
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		got, err := ReadFrame(bytes.NewReader(frame), 1<<20)
		if err != nil || !same(got, value) {
			t.Fatalf("%s: round trip gave %#v, %v", v.Name, got, err)
		}
	}
}

func TestVectorsRefused(t *testing.T) {
	_, bad := loadVectors(t)
	for _, v := range bad {
		t.Run(v.Name, func(t *testing.T) {
			stream, _ := hex.DecodeString(v.Hex)
			limit := v.MaxFrameBytes
			if limit == 0 {
				limit = 1 << 20
			}
			_, err := ReadFrame(bytes.NewReader(stream), limit)
			var frameErr *FrameError
			if !errors.As(err, &frameErr) || frameErr.Kind != v.Error {
				t.Fatalf("got %v, want a %q refusal", err, v.Error)
			}
		})
	}
}
