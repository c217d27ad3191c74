package explain

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"regexp"
	"strings"
)

// Limits on what ExplainMessage reads: a bounce is small, and the
// original message it carries is not read at all.
const (
	maxMessage = 4 << 20
	maxDepth   = 5
	maxParts   = 50
)

// ErrNotMessage is returned by ExplainMessage for empty input.
var ErrNotMessage = errors.New("explain: no message to explain")

// dsn is what a delivery status notification says.
type dsn struct {
	// diagnostics are the Diagnostic-Code values of the per-recipient
	// fields (RFC 3464 §2.3.6), without their type ("smtp;", "X-Postfix;").
	diagnostics []string
	// statuses are the Status values ("4.7.5").
	statuses []string
	// reportingMTA is the Reporting-MTA value ("dns; googlemail.com").
	reportingMTA string
	// postfix is set when the report carries Postfix's X-Postfix fields.
	postfix bool
	// report is set when the message has a message/delivery-status part.
	report bool
	// human is the human-readable text of the report (text/plain parts,
	// or the body of a message that is not multipart/report).
	human []string
}

// ExplainMessage reads a whole bounce message (a DSN, RFC 3464, as a .eml
// file), finds its diagnostic text and explains it: the message/delivery-
// status part's Diagnostic-Code first, then the human-readable part. The
// original message returned inside the bounce is not read. Input that is
// no delivery report (a plain-text bounce, or a log line piped in) is
// explained as text, so the error is only for input that cannot be read
// and for empty input (ErrNotMessage).
func ExplainMessage(r io.Reader) (Answer, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxMessage))
	if err != nil {
		return Answer{}, fmt.Errorf("explain: reading the message: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return Answer{}, ErrNotMessage
	}
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return Explain(string(data)), nil
	}
	var d dsn
	if err := d.readEntity(textproto.MIMEHeader(msg.Header), msg.Body, 0); err != nil {
		return Answer{}, fmt.Errorf("explain: reading the message: %w", err)
	}
	if a := d.explain(); a.Known || d.report {
		return a, nil
	}
	// No delivery report: the text may sit in what parsed as header
	// lines ("Diagnostic-Code: smtp; 403 4.7.0 TLS handshake failed.").
	return Explain(stripOriginal(string(data))), nil
}

// explain explains the report: each diagnostic with the report's own
// context first, then the human-readable text.
func (d *dsn) explain() Answer {
	context := ""
	if d.postfix {
		context += " X-Postfix;"
	}
	if d.reportingMTA != "" {
		context += " Reporting-MTA: " + d.reportingMTA + ";"
	}
	for _, diag := range d.diagnostics {
		if a := Explain(diag + context); a.Known {
			return d.refine(a)
		}
	}
	for _, h := range d.human {
		if a := Explain(h + context); a.Known {
			return d.refine(a)
		}
	}
	// X.7.5 is "cryptographic failure" (RFC 3463 §3.8); Postfix gives it
	// to every TLS deferral (Cannot start TLS, Server certificate not
	// verified), so a report with that status and an unknown text is
	// still a TLS failure.
	for _, s := range d.statuses {
		if s == "4.7.5" || s == "5.7.5" {
			return d.refine(fallbackStatus(d.postfix))
		}
	}
	return Answer{}
}

// fallbackStatus is the answer for a report whose only TLS sign is its
// X.7.5 status.
func fallbackStatus(postfix bool) Answer {
	adv := kindAdvice[KindValidationFailure]
	a := Answer{Known: true, Kind: KindValidationFailure, Side: SideSender,
		ReceiverDid: adv.receiverDid, Causes: adv.causes, Fix: adv.fix, Scenario: adv.scenario}
	a.Source = "unknown"
	if postfix {
		a.Source = "postfix"
	}
	a.finish("")
	return a
}

// refine fills in what the report's envelope says about its writer.
func (d *dsn) refine(a Answer) Answer {
	if a.Source == "" || a.Source == "boringssl" {
		switch {
		case d.postfix:
			a.Source = "postfix"
		case strings.Contains(strings.ToLower(d.reportingMTA), "googlemail.com"):
			a.Source = "gmail"
		}
		a.finish("")
	}
	return a
}

// readEntity walks one MIME entity: multipart containers part by part,
// message/delivery-status into fields, text/plain into human text. A
// returned message (message/rfc822, text/rfc822-headers) is skipped: its
// words are the sender's, not the bounce's.
func (d *dsn) readEntity(h textproto.MIMEHeader, body io.Reader, depth int) error {
	if depth > maxDepth {
		return nil
	}
	ctype := h.Get("Content-Type")
	if ctype == "" {
		ctype = "text/plain"
	}
	mediaType, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		mediaType = "text/plain"
	}
	if h.Get("X-Postfix-Queue-ID") != "" || h.Get("X-Postfix-Sender") != "" {
		d.postfix = true
	}
	switch {
	case strings.HasPrefix(mediaType, "multipart/"):
		if params["boundary"] == "" {
			return nil
		}
		mr := multipart.NewReader(body, params["boundary"])
		for i := 0; i < maxParts; i++ {
			p, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				// A truncated or malformed bounce: keep what was read.
				return nil
			}
			if err := d.readEntity(p.Header, p, depth+1); err != nil {
				return err
			}
		}
		return nil
	case mediaType == "message/delivery-status", mediaType == "message/global-delivery-status":
		d.report = true
		data, err := readDecoded(h, body)
		if err != nil {
			return err
		}
		d.readStatusFields(data)
	case mediaType == "message/rfc822", mediaType == "text/rfc822-headers", mediaType == "message/global":
		return nil
	case mediaType == "text/plain", mediaType == "text/html":
		data, err := readDecoded(h, body)
		if err != nil {
			return err
		}
		text := string(data)
		if mediaType == "text/html" {
			text = stripTags(text)
		}
		d.human = append(d.human, stripOriginal(text))
	}
	return nil
}

// readDecoded reads a part's body and undoes its Content-Transfer-Encoding;
// a broken encoding leaves the raw text, which is still worth explaining.
func readDecoded(h textproto.MIMEHeader, body io.Reader) ([]byte, error) {
	raw, err := io.ReadAll(io.LimitReader(body, maxMessage))
	if err != nil {
		return nil, err
	}
	var r io.Reader
	switch strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))) {
	case "quoted-printable":
		r = quotedprintable.NewReader(bytes.NewReader(raw))
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, &newlineSkipper{r: bytes.NewReader(raw)})
	default:
		return raw, nil
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return raw, nil
	}
	return data, nil
}

// newlineSkipper drops CR and LF so that base64.NewDecoder reads lines.
type newlineSkipper struct{ r io.Reader }

func (n *newlineSkipper) Read(p []byte) (int, error) {
	c, err := n.r.Read(p)
	return copy(p, bytes.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, p[:c])), err
}

// readStatusFields reads the field groups of a message/delivery-status
// part (RFC 3464 §2.1): one per-message group, then one per recipient,
// separated by blank lines, each field possibly folded.
func (d *dsn) readStatusFields(data []byte) {
	tr := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(data, '\n', '\n'))))
	for i := 0; i < maxParts; i++ {
		h, err := tr.ReadMIMEHeader()
		for name, vals := range h {
			for _, v := range vals {
				d.addField(name, v)
			}
		}
		if err != nil {
			return
		}
	}
}

func (d *dsn) addField(name, value string) {
	switch textproto.CanonicalMIMEHeaderKey(name) {
	case "Diagnostic-Code":
		// "smtp; 550 ..." or "X-Postfix; Server certificate not verified".
		typ, text, ok := strings.Cut(value, ";")
		if !ok {
			text = value
		}
		if strings.EqualFold(strings.TrimSpace(typ), "x-postfix") {
			d.postfix = true
		}
		d.diagnostics = append(d.diagnostics, strings.TrimSpace(text))
	case "Status":
		if f := strings.Fields(value); len(f) > 0 {
			d.statuses = append(d.statuses, f[0])
		}
	case "Reporting-Mta":
		d.reportingMTA = strings.TrimSpace(value)
	case "X-Postfix-Queue-Id", "X-Postfix-Sender":
		d.postfix = true
	}
}

// originalMarkers start the copy of the returned message that some MTAs
// put in the human-readable text (Exim, sendmail, qmail).
var originalMarkers = regexp.MustCompile(`(?im)^\s*(?:-{3,}\s*(?:This is a copy of the message|Original message|Below this line is a copy)|-{3,}\s*Original message follows|--- Below this line)`)

func stripOriginal(text string) string {
	if loc := originalMarkers.FindStringIndex(text); loc != nil {
		return text[:loc[0]]
	}
	return text
}

var htmlTag = regexp.MustCompile(`<[^>]*>`)

func stripTags(s string) string {
	return htmlTag.ReplaceAllString(s, " ")
}
