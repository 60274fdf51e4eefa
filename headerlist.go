package cors

import (
	"strings"

	"github.com/caddy-cors/cors/internal/fetch"
)

// Access-Control-Request-Headers is read leniently, as real clients and
// gateways send it: names in any case and order, optional white space, empty
// elements, duplicates, and the list split over several header lines. What
// it may cost is bounded by the policy, not by the request: a list longer
// than any the policy could allow is refused before it is read, and reading
// it never allocates.

// maxHeaderNameLen bounds configured header names, so that a requested name
// can be lower-cased into a fixed buffer on the stack.
const maxHeaderNameLen = 128

// maxRequestHeaderLines bounds the Access-Control-Request-Headers field lines
// read from one preflight. Browsers send one.
const maxRequestHeaderLines = 16

// wildcardRequestHeadersLen bounds the requested list when any header name is
// allowed: far more than any page sends, far less than a hostile megabyte.
const wildcardRequestHeadersLen = 8 << 10

// headerSet is the set of request header names a policy allows preflights to
// ask for.
type headerSet struct {
	any bool
	// authorization is set when Authorization is listed by name: a wildcard
	// never covers it.
	authorization bool
	names         map[string]struct{} // lower case
	longest       int                 // length of the longest name
	// maxListLen is the longest Access-Control-Request-Headers value (summed
	// over its lines) the policy could allow, with room for white space and
	// duplicates.
	maxListLen int
}

func newHeaderSet(names []string) headerSet {
	s := headerSet{names: make(map[string]struct{}, len(names))}
	sum := 0
	for _, n := range names {
		if n == "*" {
			s.any = true
			continue
		}
		lower := strings.ToLower(n)
		if lower == "authorization" {
			s.authorization = true
		}
		s.names[lower] = struct{}{}
		s.longest = max(s.longest, len(lower))
		sum += len(lower) + len(", ")
	}
	s.maxListLen = 4*sum + 256
	if s.any {
		s.maxListLen = wildcardRequestHeadersLen
	}
	return s
}

// check reports whether every name in the Access-Control-Request-Headers
// field lines is allowed. requested tells whether any name was asked for;
// refused is the first name not allowed, or empty when the lines exceed a
// bound (see exceeds) and were not read.
func (s *headerSet) check(lines []string) (requested bool, refused string, ok bool) {
	if b, _, _ := s.exceeds(lines); b != withinBounds {
		return true, "", false
	}
	for _, line := range lines {
		for line != "" {
			var name string
			name, line = fetch.NextElement(line)
			if name == "" {
				continue
			}
			requested = true
			if !s.allows(name) {
				return true, name, false
			}
		}
	}
	return requested, "", true
}

// allowedNames appends to dst each requested name that the set allows, as the
// request spelled it, for answers that must list names literally.
func (s *headerSet) allowedNames(dst []string, lines []string) []string {
	for _, line := range lines {
		for line != "" {
			var name string
			name, line = fetch.NextElement(line)
			if name != "" && s.allows(name) {
				dst = append(dst, name)
			}
		}
	}
	return dst
}

// allows reports whether a single requested header name is allowed.
func (s *headerSet) allows(name string) bool {
	if s.any {
		if !fetch.IsToken(name) || len(name) > maxHeaderNameLen {
			return false
		}
		return s.authorization || !strings.EqualFold(name, "authorization")
	}
	if len(name) > s.longest {
		return false
	}
	var buf [maxHeaderNameLen]byte
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !fetch.IsTokenByte(c) {
			return false
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	_, ok := s.names[string(buf[:len(name)])]
	return ok
}
