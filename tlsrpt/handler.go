package tlsrpt

import (
	"errors"
	"fmt"
	"net/http"
)

// Handler is the HTTPS endpoint a policy's rua names (RFC 8460 §3,
// "https:" URIs; delivery by POST, §5.4): it takes a POST whose body is a
// report of either media type, keeps it in store (ViaHTTPS), and answers
// 201 Created, one of the "successful" answers §5.4 asks for. Anything
// else is a 4xx with the reason as text, so a sender's log says what was
// wrong: 405 for another method, 415 for another media type, 413 past
// the bounds, 400 for a report that does not parse or validate.
//
// It serves whatever path it is mounted at: rua URIs carry their own
// paths (https://tlsrpt.example/v1/…).
func Handler(store *Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			reply(w, http.StatusMethodNotAllowed, "tlsrpt: %s is not allowed: POST a report (RFC 8460 §5.4)", r.Method)
			return
		}
		// The body is bounded again in Parse; this stops the read early.
		body := http.MaxBytesReader(w, r.Body, MaxReport+1)
		rep, err := Parse(body, r.Header.Get("Content-Type"))
		var tooBig *http.MaxBytesError
		switch {
		case errors.Is(err, ErrMediaType):
			reply(w, http.StatusUnsupportedMediaType, "%v", err)
			return
		case errors.Is(err, ErrTooLarge), errors.As(err, &tooBig):
			reply(w, http.StatusRequestEntityTooLarge, "%v", err)
			return
		case err != nil:
			reply(w, http.StatusBadRequest, "%v", err)
			return
		}
		store.Add(rep, ViaHTTPS)
		reply(w, http.StatusCreated, "tlsrpt: report %q from %q stored", rep.ReportID, rep.OrganizationName)
	})
}

// reply answers with a line of text.
func reply(w http.ResponseWriter, status int, format string, args ...any) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintf(w, format+"\n", args...)
}
