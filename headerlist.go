package cors

import "strings"

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

// tchar marks the bytes allowed in an RFC 9110 token: header names and methods.
var tchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// isToken reports whether s is a non-empty RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tchar[s[i]] {
			return false
		}
	}
	return true
}

// forbiddenRequestHeader reports whether browsers refuse to let a script set
// the header, whatever its value (Fetch: "forbidden request-header"): listing
// it in a policy can only be a mistake, and `caddy cors check` drops it as
// fetch() would. name is lower case.
func forbiddenRequestHeader(name string) bool {
	switch name {
	case "accept-charset", "accept-encoding", "access-control-request-headers",
		"access-control-request-method", "connection", "content-length",
		"cookie", "cookie2", "date", "dnt", "expect", "host", "keep-alive",
		"origin", "referer", "set-cookie", "te", "trailer",
		"transfer-encoding", "upgrade", "via":
		return true
	}
	return strings.HasPrefix(name, "proxy-") || strings.HasPrefix(name, "sec-")
}

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
			name, line = nextListElement(line)
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
			name, line = nextListElement(line)
			if name != "" && s.allows(name) {
				dst = append(dst, name)
			}
		}
	}
	return dst
}

// nextListElement splits the first element off a comma-separated list and
// trims the optional white space around it.
func nextListElement(list string) (elem, rest string) {
	if i := strings.IndexByte(list, ','); i >= 0 {
		elem, rest = list[:i], list[i+1:]
	} else {
		elem = list
	}
	for elem != "" && (elem[0] == ' ' || elem[0] == '\t') {
		elem = elem[1:]
	}
	for elem != "" && (elem[len(elem)-1] == ' ' || elem[len(elem)-1] == '\t') {
		elem = elem[:len(elem)-1]
	}
	return elem, rest
}

// allows reports whether a single requested header name is allowed.
func (s *headerSet) allows(name string) bool {
	if s.any {
		if !isToken(name) || len(name) > maxHeaderNameLen {
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
		if !tchar[c] {
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
