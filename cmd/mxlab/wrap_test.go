package main

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestWrapLine(t *testing.T) {
	for _, tc := range []struct {
		line  string
		width int
		want  []string
	}{
		{"short", 80, []string{"short"}},
		{"  the sender says (measured): dsn=4.7.5, status=deferred (Cannot start TLS: handshake failure)", 40,
			[]string{"  the sender says (measured): dsn=4.7.5,", "    status=deferred (Cannot start TLS:", "    handshake failure)"}},
		{"a " + strings.Repeat("x", 25), 10, []string{"a", "  xxxxxxxx", "  xxxxxxxx", "  xxxxxxxx", "  x"}},
		{"    1. ünïcödé wörds wrap by runes", 20, []string{"    1. ünïcödé wörds", "      wrap by runes"}},
	} {
		got := wrapLine(tc.line, tc.width)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("wrapLine(%q, %d) =\n%q\nwant\n%q", tc.line, tc.width, got, tc.want)
		}
		for _, l := range got {
			if utf8.RuneCountInString(l) > tc.width {
				t.Errorf("line %q is longer than %d", l, tc.width)
			}
		}
		// Nothing is lost: the words come back in order.
		if strings.Join(strings.Fields(strings.Join(got, " ")), "") != strings.Join(strings.Fields(tc.line), "") {
			t.Errorf("wrapLine(%q) lost text: %q", tc.line, got)
		}
	}
}

// TestDetailViewsFitTheWidth: with COLUMNS=40 the detail views fit 40
// columns and say the same words as with room to spare.
func TestDetailViewsFitTheWidth(t *testing.T) {
	for _, args := range [][]string{
		{"explain", "TLS Negotiation failed: FAILED_PRECONDITION: starttls error (71): ...SSLV3_ALERT_ILLEGAL_PARAMETER... SSL alert number 47"},
		{"scenarios", "sni-reject"},
		{"profiles", "postfix-dane"},
	} {
		t.Run(args[0], func(t *testing.T) {
			t.Setenv("COLUMNS", "1000")
			_, wide, _ := mxlab(t, args...)
			t.Setenv("COLUMNS", "40")
			code, narrow, errOut := mxlab(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, l := range strings.Split(narrow, "\n") {
				if utf8.RuneCountInString(l) > 40 {
					t.Errorf("line of %d columns: %q", utf8.RuneCountInString(l), l)
				}
			}
			if strings.Join(strings.Fields(wide), "") != strings.Join(strings.Fields(narrow), "") {
				t.Errorf("wrapping changed the text:\n%s\n---\n%s", wide, narrow)
			}
		})
	}
}
