package tlsalert

// Scanner follows the record framing of a byte stream and returns
// the first plaintext alert it sees (a record of type 21 and length 2;
// encrypted alerts are longer or of type 23).
type Scanner struct {
	hdr  []byte
	body []byte
	left int
}

// Feed takes the next bytes of the stream.
func (s *Scanner) Feed(p []byte) *Alert {
	for len(p) > 0 {
		if s.left == 0 {
			need := 5 - len(s.hdr)
			n := min(need, len(p))
			s.hdr = append(s.hdr, p[:n]...)
			p = p[n:]
			if len(s.hdr) < 5 {
				return nil
			}
			s.left = int(s.hdr[3])<<8 | int(s.hdr[4])
			s.body = s.body[:0]
			if s.left == 0 {
				s.hdr = s.hdr[:0]
			}
			continue
		}
		n := min(s.left, len(p))
		if s.hdr[0] == 21 && s.left+len(s.body) == 2 || len(s.body) > 0 {
			s.body = append(s.body, p[:n]...)
		}
		s.left -= n
		p = p[n:]
		if s.left == 0 {
			typ := s.hdr[0]
			s.hdr = s.hdr[:0]
			if typ == 21 && len(s.body) == 2 {
				return &Alert{Level: Level(s.body[0]), Description: Description(s.body[1])}
			}
		}
	}
	return nil
}
