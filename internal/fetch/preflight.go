package fetch

import (
	"slices"
	"strings"
)

// The CORS-preflight fetch's checks of a preflight answer's lists (Fetch,
// "CORS-preflight fetch", step 7), once the Access-Control-Allow-Origin
// check has passed and both lists have parsed. The simulator judges an
// answer with them, and report-only mode judges the application's answer
// and the policy's with them, so the two never read a list differently.

// MethodAllowed reports whether the parsed Access-Control-Allow-Methods list
// lets a request with the normalized method through: a safelisted method
// needs no listing, a listed one matches case-sensitively, and "*" covers
// every method of a request without credentials.
func MethodAllowed(methods []string, method string, credentials bool) bool {
	return IsSafelistedMethod(method) || slices.Contains(methods, method) ||
		!credentials && slices.Contains(methods, "*")
}

// RefusedHeader returns the first of the CORS-unsafe request-header names
// that the parsed Access-Control-Allow-Headers list does not cover. A name is
// covered when listed, in any case, or by "*" for a request without
// credentials; "*" never covers Authorization, which must be listed.
func RefusedHeader(allowed, unsafe []string, credentials bool) (name string, refused bool) {
	star := !credentials && slices.Contains(allowed, "*")
	for _, name := range unsafe {
		if star && !strings.EqualFold(name, "authorization") {
			continue
		}
		if !slices.ContainsFunc(allowed, func(a string) bool { return strings.EqualFold(a, name) }) {
			return name, true
		}
	}
	return "", false
}

// IsSafelistedResponseHeader reports whether a script reads the response
// header name whatever Access-Control-Expose-Headers says.
func IsSafelistedResponseHeader(name string) bool {
	switch name {
	case "Cache-Control", "Content-Language", "Content-Length", "Content-Type", "Expires", "Last-Modified", "Pragma":
		return true // the spelling of Go's header maps, without a case fold
	}
	return slices.ContainsFunc(SafelistedResponseHeaders, func(s string) bool { return strings.EqualFold(s, name) })
}
