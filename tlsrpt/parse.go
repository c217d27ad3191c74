package tlsrpt

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
)

// The media types of a report (RFC 8460 §6.4, §6.5).
const (
	MediaJSON = "application/tlsrpt+json"
	MediaGzip = "application/tlsrpt+gzip"
)

// Size bounds. RFC 8460 §5.2 notes "a commonly observed receiver limit is
// ten megabytes" for a report; a gzipped report of a day compresses far
// below a megabyte (Google's: a few hundred bytes).
const (
	// MaxCompressed bounds a gzipped report as it arrives.
	MaxCompressed = 1 << 20
	// MaxReport bounds a report's JSON, after decompression.
	MaxReport = 10 << 20
	// MaxMessage bounds a mailed report, headers and encoding included.
	MaxMessage = 15 << 20
)

// Errors of Parse and FromMessage, for errors.Is.
var (
	// ErrMediaType: the content is neither of RFC 8460's media types.
	ErrMediaType = errors.New("tlsrpt: not a report media type")
	// ErrTooLarge: a bound above was passed.
	ErrTooLarge = errors.New("tlsrpt: too large")
	// ErrNoReport: a message carries no report part.
	ErrNoReport = errors.New("tlsrpt: no report in the message")
)

// Parse reads a report of the given media type (a Content-Type value,
// parameters allowed): MediaJSON, or MediaGzip (gzip, RFC 1952, as RFC
// 8460 §5.2 recommends). The input is bounded (MaxCompressed, MaxReport)
// and the JSON checked by [Validate] before it is decoded. Errors match
// ErrMediaType, ErrTooLarge, ErrInvalid, or say what could not be read.
func Parse(r io.Reader, contentType string) (*Report, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, fmt.Errorf("%w: Content-Type %q: %v", ErrMediaType, contentType, err)
	}
	var data []byte
	switch mt {
	case MediaJSON:
		if data, err = readAtMost(r, MaxReport, "report"); err != nil {
			return nil, err
		}
	case MediaGzip:
		gz, err := readAtMost(r, MaxCompressed, "compressed report")
		if err != nil {
			return nil, err
		}
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			return nil, fmt.Errorf("tlsrpt: %s: %w", MediaGzip, err)
		}
		// Decompressed under its own bound: a small body can inflate a
		// thousandfold.
		if data, err = readAtMost(zr, MaxReport, "decompressed report"); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: %q (want %s or %s)", ErrMediaType, mt, MediaJSON, MediaGzip)
	}
	if err := Validate(data); err != nil {
		return nil, err
	}
	var rep Report
	if err := json.Unmarshal(data, &rep); err != nil {
		// Validate accepted it, so this is a gap between the two.
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return &rep, nil
}

// readAtMost reads r to its end, failing with ErrTooLarge past max bytes.
func readAtMost(r io.Reader, max int64, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("tlsrpt: reading the %s: %w", what, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w: the %s is over %d bytes", ErrTooLarge, what, max)
	}
	return b, nil
}

// FromMessage reads a report mailed as RFC 8460 §5.3 says: a
// multipart/report message with report-type="tlsrpt", a human-readable
// part, and the report as an application/tlsrpt+gzip (or +json) part,
// base64 or quoted-printable as the part's Content-Transfer-Encoding
// says. A message whose whole body is a report is taken too (mox accepts
// those, as reporters are lax with DMARC's format). The first report part
// found is the report. Errors match ErrNoReport, ErrTooLarge, and those
// of Parse.
func FromMessage(raw []byte) (*Report, error) {
	if len(raw) > MaxMessage {
		return nil, fmt.Errorf("%w: the message is over %d bytes", ErrTooLarge, MaxMessage)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("tlsrpt: reading the message: %w", err)
	}
	rep, err := fromEntity(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, 0)
	if rep == nil && err == nil {
		return nil, ErrNoReport
	}
	return rep, err
}

// maxNesting bounds multipart inside multipart.
const maxNesting = 4

// fromEntity finds the report in one MIME entity (a message body or a
// part); nil and no error when it holds none.
func fromEntity(contentType, encoding string, body io.Reader, depth int) (*Report, error) {
	if contentType == "" {
		contentType = "text/plain" // RFC 2045 §5.2
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, fmt.Errorf("tlsrpt: Content-Type %q: %w", contentType, err)
	}
	switch {
	case mt == MediaJSON || mt == MediaGzip:
		return Parse(decodeTransfer(encoding, body), mt)
	case strings.HasPrefix(mt, "multipart/"):
		if depth >= maxNesting {
			return nil, fmt.Errorf("%w: multipart nested deeper than %d", ErrTooLarge, maxNesting)
		}
		if mt == "multipart/report" && !strings.EqualFold(params["report-type"], "tlsrpt") {
			// RFC 6522's multipart/report carries DSNs and DMARC too.
			return nil, fmt.Errorf("%w: multipart/report with report-type=%q, want \"tlsrpt\" (RFC 8460 §5.3)", ErrNoReport, params["report-type"])
		}
		if params["boundary"] == "" {
			return nil, fmt.Errorf("tlsrpt: %s without a boundary", mt)
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			// NextPart undoes quoted-printable itself; base64 is ours.
			p, err := mr.NextPart()
			if err == io.EOF {
				return nil, nil
			}
			if err != nil {
				return nil, fmt.Errorf("tlsrpt: reading the message's parts: %w", err)
			}
			rep, err := fromEntity(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, depth+1)
			if rep == nil && err == nil {
				continue // a part without a report: the text part
			}
			return rep, err
		}
	}
	return nil, nil
}

// decodeTransfer undoes a part's Content-Transfer-Encoding (RFC 2045 §6).
// Base64's line breaks are skipped by the decoder; 7bit, 8bit and binary
// are the bytes themselves.
func decodeTransfer(encoding string, r io.Reader) io.Reader {
	if strings.EqualFold(strings.TrimSpace(encoding), "base64") {
		return base64.NewDecoder(base64.StdEncoding, r)
	}
	return r
}
