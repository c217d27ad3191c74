package api

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// errorBody is the shape of every error (docs/api.md, Conventions).
type errorBody struct {
	Error struct {
		Status  int    `json:"status"`
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// errorCodes name the statuses the API answers with.
var errorCodes = map[int]string{
	http.StatusBadRequest:            "bad-request",
	http.StatusUnauthorized:          "unauthorized",
	http.StatusForbidden:             "forbidden",
	http.StatusNotFound:              "not-found",
	http.StatusMethodNotAllowed:      "method-not-allowed",
	http.StatusRequestEntityTooLarge: "too-large",
	http.StatusInternalServerError:   "internal",
	http.StatusServiceUnavailable:    "unavailable",
}

// writeError answers an error as JSON.
func writeError(w http.ResponseWriter, status int, format string, args ...any) {
	var b errorBody
	b.Error.Status = status
	b.Error.Code = errorCodes[status]
	b.Error.Message = fmt.Sprintf(format, args...)
	writeJSON(w, status, b)
}

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		data = []byte(`{"error":{"status":500,"code":"internal","message":"encoding the answer failed"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(append(data, '\n'))
}
