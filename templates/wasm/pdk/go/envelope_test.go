package pgw

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// The `handle` input as encoding/json reads it: the reference the scanner must match.
type handleInput struct {
	Key     string  `json:"key"`
	Request Request `json:"request"`
}

// What the gateway sends for POST /echo (src/loader/wasm/entry.ts), as bench/wasm sends it.
const envelope = `{"key":"POST /echo","request":{"method":"POST","path":"/echo","headers":{"content-type":"application/json","x-tags":["a","b"]},"body":{"hello":"wasm","n":42},"id":"3f1c","params":{},"query":{"page":"2","tag":["x","y"]},"userId":456}}`

var seeds = []string{
	envelope,
	`null`, ` null `, `{}`, `{"key":"GET /x"}`, `{"key":null,"request":null}`,
	`{"KEY":"a","Request":{"METHOD":"GET","İd":"i","\u212aey":"k"}}`,
	`{"key":"a","key":"b","request":{"params":{"a":"1"}},"request":{"params":{"b":"2"},"body":[1, 2 ,3]}}`,
	`{"request":{"params":{"a":null},"query":{"a":null,"b":1e400}}}`,
	`{"request":{"body":null,"userId":null,"headers":null}}`,
	`{"request":{"method":5}}`, `{"request":[]}`, `5`, `[]`, `"x"`, ``, `{`, `{"key":"a",}`,
	`{"key":"\ud800x\udc00\ud83d\ude00\u00e9\"\\\/\b\f\n\r\t"}`, "{\"key\":\"\xff\xfe\"}",
	`{"key":"a"} x`, `{"key":01}`, `{"key":"a","request":{"body":-0.5e+3}}`, `{"x":[{"y":{}},tru]}`,
	`{"request":{"query":{"a":{"b":[true,false,null,-1.5E-7]}},"userId":"u<&>"}}`,
	`{"requeſt":{"ıd":"dotless","headerſ":{"a":1},"paramsparamsparams":{}},"kEY":"k"}`,
	"{\"request\":{\"body\":\"\u2028<\",\"headers\":{\"a\\u0000\":\"\\u2029\"}}}",
}

// decodesLikeEncodingJSON fails t when the scanner and encoding/json disagree on in.
func decodesLikeEncodingJSON(t *testing.T, in []byte) {
	t.Helper()
	var want handleInput
	wantErr := json.Unmarshal(in, &want)
	key, req, err := decodeHandle(in)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("%q: scanner error %v, encoding/json error %v", in, err, wantErr)
	}
	if err != nil {
		return
	}
	if key != want.Key || !reflect.DeepEqual(req, want.Request) {
		t.Fatalf("%q:\nscanner       %q %#v\nencoding/json %q %#v", in, key, req, want.Key, want.Request)
	}
	encodesLikeEncodingJSON(t, &req)
}

// encodesLikeEncodingJSON fails t when AppendJSON and appendResponse write other bytes than
// encoding/json (or fail where it does not).
func encodesLikeEncodingJSON(t *testing.T, req *Request) {
	t.Helper()
	want, wantErr := json.Marshal(req)
	got, err := req.AppendJSON(nil)
	if (err == nil) != (wantErr == nil) || err == nil && string(got) != string(want) {
		t.Fatalf("request:\nAppendJSON    %s (%v)\nencoding/json %s (%v)", got, err, want, wantErr)
	}
	for _, res := range []*Response{
		{StatusCode: 200, Headers: map[string]string{"z": "<1>", "a": req.Path}, Body: req},
		{StatusCode: 404, Body: map[string]any{"q": req.Query, "h": req.Headers, "u": req.UserID}},
		{StatusCode: 201, Body: req.Body},
		{StatusCode: 500, Body: []any{req.ID, 1, true, nil, 2.5}},
		{StatusCode: 204},
	} {
		want, wantErr := json.Marshal(res)
		got, err := appendResponse(nil, res)
		if (err == nil) != (wantErr == nil) || err == nil && string(got) != string(want) {
			t.Fatalf("response:\nappendResponse %s (%v)\nencoding/json  %s (%v)", got, err, want, wantErr)
		}
	}
}

func TestEnvelopeMatchesEncodingJSON(t *testing.T) {
	for _, in := range seeds {
		decodesLikeEncodingJSON(t, []byte(in))
	}
}

// A body is the client's: nested as deep as encoding/json takes it (its limit, 10,000, counted from the
// envelope), it is read without recursion, so it fits the wasm stack too (run the tests in wasm with
// bench/wasm/wasi-run.mjs). Query and header values come from the gateway, flat.
func TestEnvelopeDepthIsEncodingJSONs(t *testing.T) {
	for _, depth := range []int{maxDepth - 3, maxDepth - 2, maxDepth} {
		for _, open := range []string{"[", `{"a":`} {
			end := "]"
			if open != "[" {
				end = "}"
			}
			in := `{"request":{"body":` + strings.Repeat(open, depth) + "1" + strings.Repeat(end, depth) + `}}`
			decodesLikeEncodingJSON(t, []byte(in))
			in = `{"request":{"context":` + strings.Repeat(open, depth) + "1" + strings.Repeat(end, depth) + `}}`
			decodesLikeEncodingJSON(t, []byte(in))
		}
	}
	in := `{"request":{"query":{"a":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}}}`
	decodesLikeEncodingJSON(t, []byte(in))
}

func TestEnvelopeKeepsTheBodysBytes(t *testing.T) {
	_, req, err := decodeHandle([]byte(envelope))
	if err != nil || string(req.Body) != `{"hello":"wasm","n":42}` {
		t.Fatalf("body %s, error %v", req.Body, err)
	}
	// A handler appending to the body must not write over the input that follows it.
	in := []byte(envelope)
	_, req, _ = decodeHandle(in)
	_ = append(req.Body, "xxxxxxxx"...)
	if string(in) != envelope {
		t.Fatal("an append to the body wrote over the input")
	}
	var body struct{ N int }
	if err := req.BindBody(&body); err != nil || body.N != 42 {
		t.Fatalf("BindBody: %v %+v", err, body)
	}
}

func TestResponseRefusesWhatEncodingJSONRefuses(t *testing.T) {
	for _, body := range []any{json.RawMessage(`{"a":`), json.RawMessage(`1 2`), map[string]any{"n": nanValue()}} {
		if _, err := appendResponse(nil, &Response{StatusCode: 200, Body: body}); err == nil {
			t.Fatalf("body %v was written", body)
		}
		if _, err := json.Marshal(&Response{StatusCode: 200, Body: body}); err == nil {
			t.Fatalf("encoding/json wrote body %v", body)
		}
	}
}

func nanValue() float64 {
	zero := 0.0
	return zero / zero
}

// go test -fuzz FuzzEnvelope -fuzztime 60s
func FuzzEnvelope(f *testing.F) {
	for _, in := range seeds {
		f.Add([]byte(in))
	}
	f.Fuzz(decodesLikeEncodingJSON)
}

func BenchmarkDecodeScanner(b *testing.B) {
	in := []byte(envelope)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := decodeHandle(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeEncodingJSON(b *testing.B) {
	in := []byte(envelope)
	b.ReportAllocs()
	for b.Loop() {
		var h handleInput
		if err := json.Unmarshal(in, &h); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeScanner(b *testing.B) {
	_, req, _ := decodeHandle([]byte(envelope))
	b.ReportAllocs()
	for b.Loop() {
		res := JSON(200, map[string]any{"key": "POST /echo", "request": &req})
		if _, err := appendResponse(make([]byte, 0, 256+len(envelope)), res); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeEncodingJSON(b *testing.B) {
	_, req, _ := decodeHandle([]byte(envelope))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(JSON(200, echoed{Key: "POST /echo", Request: &req})); err != nil {
			b.Fatal(err)
		}
	}
}

// The echo the templates serve: decode the envelope, answer {"key":...,"request":...}. Last in the
// file: in wasm, V8 tiers the code up during the first benchmark, which would count it there.
func BenchmarkEchoScanner(b *testing.B) {
	in := []byte(envelope)
	b.ReportAllocs()
	for b.Loop() {
		key, req, err := decodeHandle(in)
		if err != nil {
			b.Fatal(err)
		}
		res := JSON(200, map[string]any{"key": key, "request": &req})
		if _, err := appendResponse(make([]byte, 0, 256+len(in)), res); err != nil {
			b.Fatal(err)
		}
	}
}

type echoed struct {
	Key     string   `json:"key"`
	Request *Request `json:"request"`
}

func BenchmarkEchoEncodingJSON(b *testing.B) {
	in := []byte(envelope)
	b.ReportAllocs()
	for b.Loop() {
		var h handleInput
		if err := json.Unmarshal(in, &h); err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(JSON(200, echoed{Key: h.Key, Request: &h.Request})); err != nil {
			b.Fatal(err)
		}
	}
}
