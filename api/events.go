package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/mxlab/mxlab/server"
)

// eventBuffer is how many events a slow reader of the stream may fall
// behind before it loses some: the lab never waits for a reader.
const eventBuffer = 1024

// events answers GET /api/v1/events with server-sent events (HTML Living
// Standard §9.2): one per session start, step and end.
func (a *api) events(w http.ResponseWriter, r *http.Request) {
	scenario := r.URL.Query().Get("scenario")
	if scenario != "" {
		if _, err := a.cfg.Lab.Layout().Site(scenario); err != nil {
			writeError(w, http.StatusBadRequest, "scenario: %s", err)
			return
		}
	}
	rc := http.NewResponseController(w)
	// The server's write timeout, if any, must not end the stream.
	_ = rc.SetWriteDeadline(time.Time{})
	ch := make(chan server.Event, eventBuffer)
	var dropped atomic.Int64
	stop := a.cfg.Lab.Sessions().Watch(func(e server.Event) {
		if scenario != "" && e.Scenario != scenario {
			return
		}
		select {
		case ch <- e:
		default:
			dropped.Add(1)
		}
	})
	defer stop()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	// A first comment tells the reader the stream is live: whatever
	// happens from now on will be sent.
	fmt.Fprint(w, ": mxlab events\n\n")
	if rc.Flush() != nil {
		return
	}
	keepAlive := time.NewTicker(a.cfg.KeepAlive)
	defer keepAlive.Stop()
	var id int64
	for {
		select {
		case <-r.Context().Done():
			return
		case <-keepAlive.C:
			fmt.Fprint(w, ": keep-alive\n\n")
		case e := <-ch:
			if n := dropped.Swap(0); n > 0 {
				fmt.Fprintf(w, ": dropped %d events\n\n", n)
			}
			data, err := json.Marshal(e)
			if err != nil {
				continue
			}
			id++
			// JSON has no raw newlines, so the data is one line.
			fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", id, e.Type, data)
		}
		if rc.Flush() != nil {
			return
		}
	}
}
