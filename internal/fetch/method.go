package fetch

import "strings"

// NormalizeMethod is Fetch's method normalization: the six methods browsers
// upper-case whatever the script wrote, and every other method as written.
// fetch("…", {method: "patch"}) really sends "patch", so a policy listing
// PATCH does not match it.
func NormalizeMethod(m string) string {
	switch up := strings.ToUpper(m); up {
	case "DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT":
		return up
	}
	return m
}

// IsSafelistedMethod reports whether a request with method m needs no
// preflight, and so whether a preflight answer never needs to list it. The
// comparison is case-sensitive: m is already normalized.
func IsSafelistedMethod(m string) bool {
	return m == "GET" || m == "HEAD" || m == "POST"
}

// IsForbiddenMethod reports whether fetch() refuses m outright, in any case.
func IsForbiddenMethod(m string) bool {
	switch strings.ToUpper(m) {
	case "CONNECT", "TRACE", "TRACK":
		return true
	}
	return false
}
