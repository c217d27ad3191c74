package msgstore

import (
	"bytes"
	"strings"
	"time"
)

// The trace fields the lab puts above each stored message. The lab's own
// come last, and X-Mxlab-Received last of all: it marks the end of the
// trace, so that a message that itself begins with Delivered-To (a
// forwarded one) is not taken for part of it.
const (
	fieldReturnPath  = "Return-Path"
	fieldDeliveredTo = "Delivered-To"
	fieldSession     = "X-Mxlab-Session"
	fieldScenario    = "X-Mxlab-Scenario"
	fieldReceived    = "X-Mxlab-Received"
)

// traceFields renders an envelope as trace fields.
func traceFields(env Envelope) []byte {
	var b bytes.Buffer
	field := func(name, value string) {
		// Envelope values come from the client; a line break in one must
		// not make a field of its own.
		value = strings.NewReplacer("\r", " ", "\n", " ").Replace(value)
		b.WriteString(name + ": " + value + "\r\n")
	}
	field(fieldReturnPath, "<"+env.From+">")
	for _, to := range env.To {
		field(fieldDeliveredTo, to)
	}
	field(fieldSession, env.Session)
	field(fieldScenario, env.Scenario)
	field(fieldReceived, env.Received.UTC().Format(time.RFC3339Nano))
	return b.Bytes()
}

// splitTrace separates the trace fields from the message; a file without
// a complete trace is all message.
func splitTrace(raw []byte) (trace []Header, body []byte) {
	pos := 0
	for pos < len(raw) {
		end := bytes.IndexByte(raw[pos:], '\n')
		if end < 0 {
			break
		}
		line := bytes.TrimSuffix(raw[pos:pos+end], []byte("\r"))
		name, value, ok := bytes.Cut(line, []byte(": "))
		if !ok {
			break
		}
		switch string(name) {
		case fieldReturnPath, fieldDeliveredTo, fieldSession, fieldScenario, fieldReceived:
		default:
			return nil, raw
		}
		trace = append(trace, Header{Name: string(name), Value: string(value)})
		pos += end + 1
		if string(name) == fieldReceived {
			return trace, raw[pos:]
		}
	}
	return nil, raw
}

// envelopeOf rebuilds the message description from a stored file.
func envelopeOf(id string, raw []byte) Message {
	trace, body := splitTrace(raw)
	m := Message{ID: id, To: []string{}, Size: int64(len(body))}
	for _, f := range trace {
		switch f.Name {
		case fieldReturnPath:
			m.From = strings.TrimSuffix(strings.TrimPrefix(f.Value, "<"), ">")
		case fieldDeliveredTo:
			m.To = append(m.To, f.Value)
		case fieldSession:
			m.Session = f.Value
		case fieldScenario:
			m.Scenario = f.Value
		case fieldReceived:
			m.Received, _ = time.Parse(time.RFC3339Nano, f.Value)
		}
	}
	hdrs, _ := parseHeader(body)
	m.Subject = subject(hdrs)
	return m
}
