package server

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"
)

// Accepted is one message the lab acknowledged, as a line of the accepted
// file: written before the 250 leaves, so that every message a client was
// told is queued can be found after a crash, even when the session's
// record (written when the session ends) never was.
type Accepted struct {
	// QueueID is the id the 250 reply gives ("queued as ...").
	QueueID  string    `json:"queue_id"`
	Session  string    `json:"session"`
	Scenario string    `json:"scenario"`
	From     string    `json:"from"`
	To       []string  `json:"to"`
	Size     int64     `json:"size"`
	Time     time.Time `json:"time"`
	// Message is the message's id in the message store, "" when the
	// lab discards messages.
	Message string `json:"message,omitempty"`
}

// AcceptedLog appends Accepted lines to a file.
type AcceptedLog struct {
	mu   sync.Mutex
	file *os.File
	path string
}

// NewAcceptedLog starts the accepted file at path afresh (one lab run).
func NewAcceptedLog(path string) (*AcceptedLog, error) {
	f, err := openJSONLines(path)
	if err != nil {
		return nil, fmt.Errorf("server: accepted file: %w", err)
	}
	return &AcceptedLog{file: f, path: path}, nil
}

// Path returns the accepted file's path.
func (a *AcceptedLog) Path() string { return a.path }

// add appends one line. It returns only once the line is in the file
// (the kernel's page cache: it survives the process being killed, not
// the machine losing power).
func (a *AcceptedLog) add(m Accepted) error {
	line, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("server: encoding accepted %s: %w", m.QueueID, err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.file == nil {
		return fmt.Errorf("server: accepted file %s: closed", a.path)
	}
	if err := appendLine(a.file, line); err != nil {
		return fmt.Errorf("server: accepted file: %w", err)
	}
	return nil
}

// Close closes the file.
func (a *AcceptedLog) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.file == nil {
		return nil
	}
	err := a.file.Close()
	a.file = nil
	return err
}
