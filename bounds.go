package cors

// bound is a limit on what a preflight may send, beyond which it is not read
// at all. No browser comes near one; a request beyond one is answered like
// one from a refused origin, so that its refusal is a refusal in every
// client, whatever the answer's lists would have covered.
type bound uint8

const (
	withinBounds bound = iota
	boundRequestHeaderLines
	boundRequestHeadersLength
	boundRequestMethodLines
)

func (b bound) String() string {
	return [...]string{
		"",
		"Access-Control-Request-Headers field lines",
		"Access-Control-Request-Headers length",
		"Access-Control-Request-Method field lines",
	}[b]
}

// exceeds reports the first bound the Access-Control-Request-Headers field
// lines exceed, with the limit and what the request sent: at most
// maxRequestHeaderLines lines, and no more bytes in all than the policy could
// allow. It costs one addition per line, whatever the lines hold.
func (s *headerSet) exceeds(lines []string) (b bound, limit, got int) {
	if len(lines) > maxRequestHeaderLines {
		return boundRequestHeaderLines, maxRequestHeaderLines, len(lines)
	}
	total := 0
	for _, l := range lines {
		total += len(l)
	}
	if total > s.maxListLen {
		return boundRequestHeadersLength, s.maxListLen, total
	}
	return withinBounds, 0, 0
}

// exceeds reports the first bound a preflight's Access-Control-Request-Method
// and -Headers field lines exceed (see headerSet.exceeds). Browsers send one
// method line; a second one leaves unclear which method is asked for.
func (p *policy) exceeds(acrm, acrh []string) (b bound, limit, got int) {
	if len(acrm) > 1 {
		return boundRequestMethodLines, 1, len(acrm)
	}
	return p.headers.exceeds(acrh)
}
