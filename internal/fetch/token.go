package fetch

import "strings"

// tchar marks the bytes allowed in an RFC 9110 token: header names and
// methods.
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

// IsTokenByte reports whether c may appear in a token. Callers that also
// transform each byte (lower-casing into a buffer) test bytes one by one.
func IsTokenByte(c byte) bool { return tchar[c] }

// IsToken reports whether s is a non-empty RFC 9110 token.
func IsToken(s string) bool {
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

// NextElement splits the first element off a comma-separated list and trims
// the optional white space around it. Empty elements come back empty; the
// caller skips them. It never allocates, so the module reads request lists
// with it on every preflight.
func NextElement(list string) (elem, rest string) {
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

// ParseTokenList extracts a comma-separated list of tokens the way browsers
// read Access-Control-Allow-Methods and -Headers: several field lines are
// one list, white space around elements and empty elements are ignored, and
// any element that is not a token makes the whole field unparsable (ok is
// false), which fails the preflight.
func ParseTokenList(lines []string) (list []string, ok bool) {
	return AppendTokenList(nil, lines)
}

// AppendTokenList is ParseTokenList appending to dst, so that a caller with
// a small array of its own parses a list without allocating.
func AppendTokenList(dst, lines []string) (list []string, ok bool) {
	list = dst
	for _, line := range lines {
		for line != "" {
			var e string
			e, line = NextElement(line)
			if e == "" {
				continue
			}
			if !IsToken(e) {
				return nil, false
			}
			list = append(list, e)
		}
	}
	return list, true
}

// ListContains reports whether the comma-separated field lines list name,
// compared case-insensitively, or "*" when star is set.
func ListContains(lines []string, name string, star bool) bool {
	for _, line := range lines {
		for line != "" {
			var e string
			e, line = NextElement(line)
			if (star && e == "*") || (e != "" && strings.EqualFold(e, name)) {
				return true
			}
		}
	}
	return false
}
