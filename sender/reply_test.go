package sender

import "testing"

// TestReplyText: the reply as sendmail quotes it in stat=Sent (...),
// without its code and enhanced code (TestFidelitySendmail measures it).
func TestReplyText(t *testing.T) {
	for _, tt := range []struct{ reply, want string }{
		{"250 2.0.0 Ok: queued as C17C6C00004", "Ok: queued as C17C6C00004"},
		{"250 2.0.0 000YIWjA000002 Message accepted for delivery", "000YIWjA000002 Message accepted for delivery"},
		{"250 OK id=1xVDXP-00028Z-0n", "OK id=1xVDXP-00028Z-0n"},
		{"250 Ok", "Ok"},
		{"250", ""},
		{"", ""},
	} {
		if got := replyText(tt.reply); got != tt.want {
			t.Errorf("replyText(%q) = %q, want %q", tt.reply, got, tt.want)
		}
	}
}
