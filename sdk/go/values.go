package plugin

// Reading the protocol's decoded maps: every field is checked for its type; a missing or mistyped
// field reads as its zero value (the gateway is the reference writer, the vectors pin its shapes).

func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

func num(m map[string]any, key string) int64 {
	switch n := m[key].(type) {
	case int64:
		return n
	case uint64:
		return int64(n)
	case float64:
		return int64(n)
	}
	return 0
}

func obj(m map[string]any, key string) map[string]any {
	o, _ := m[key].(map[string]any)
	return o
}

func strings(m map[string]any) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

func bools(m map[string]any) map[string]bool {
	out := make(map[string]bool, len(m))
	for k, v := range m {
		if b, ok := v.(bool); ok {
			out[k] = b
		}
	}
	return out
}

func requestOf(m map[string]any) *Request {
	query := obj(m, "query")
	if query == nil {
		query = map[string]any{}
	}
	return &Request{
		ID:      str(m, "id"),
		Method:  str(m, "method"),
		Path:    str(m, "path"),
		Headers: strings(obj(m, "headers")),
		Params:  strings(obj(m, "params")),
		Query:   query,
		Body:    m["body"],
		UserID:  m["userId"],
		Context: obj(m, "context"),
	}
}

func eventOf(m map[string]any) Event {
	return Event{
		Type:      str(m, "type"),
		Payload:   m["payload"],
		UserID:    m["userId"],
		ID:        str(m, "id"),
		Timestamp: num(m, "timestamp"),
		Source:    str(m, "source"),
	}
}

func (e Event) wire(source string) map[string]any {
	out := map[string]any{"type": e.Type, "source": source}
	if e.Payload != nil {
		out["payload"] = e.Payload
	}
	if e.UserID != nil {
		out["userId"] = e.UserID
	}
	if e.ID != "" {
		out["id"] = e.ID
	}
	if e.Timestamp != 0 {
		out["timestamp"] = e.Timestamp
	}
	return out
}

func (r *Response) wire() map[string]any {
	out := map[string]any{"statusCode": r.StatusCode}
	if r.Headers != nil {
		out["headers"] = r.Headers
	}
	if r.Body != nil {
		out["body"] = r.Body
	}
	if r.Metadata != nil {
		out["metadata"] = r.Metadata
	}
	return out
}

func (h Health) wire() map[string]any {
	out := map[string]any{"status": h.Status}
	if h.Details != nil {
		out["details"] = h.Details
	}
	return out
}

func failure(kind, message string) map[string]any {
	return map[string]any{"__pgw": kind, "message": message}
}
