package check

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/caddy-cors/cors/internal/fetch"
)

// kind names a failure Chromium reports; the names follow its CorsError
// enum so the messages can be compared with Chromium's sources.
type kind int

const (
	missingAllowOrigin kind = iota
	multipleAllowOrigin
	invalidAllowOrigin
	allowOriginMismatch
	wildcardOrigin
	invalidAllowCredentials
	preflightInvalidStatus
	preflightRedirect
	invalidAllowMethods
	invalidAllowHeaders
	methodDisallowed
	headerDisallowed
	redirectCredentials
)

// failure is why a browser refuses a response.
type failure struct {
	kind      kind
	hint      string // the value Chromium quotes (header value, method, name)
	spelled   string // a refused header's name as the script wrote it (WebKit quotes that)
	preflight bool   // found on the preflight response
}

// detail is the part of Chromium's console message after "blocked by CORS
// policy: ".
func (f failure) detail() string {
	const validValue = " Have the server send the header with a valid value."
	var prefix string
	if f.preflight && f.kind <= preflightRedirect {
		prefix = "Response to preflight request doesn't pass access control check: "
	}
	switch f.kind {
	case missingAllowOrigin:
		return prefix + "No 'Access-Control-Allow-Origin' header is present on the requested resource."
	case multipleAllowOrigin:
		return prefix + "The 'Access-Control-Allow-Origin' header contains multiple values '" + f.hint + "', but only one is allowed." + validValue
	case invalidAllowOrigin:
		return prefix + "The 'Access-Control-Allow-Origin' header contains the invalid value '" + f.hint + "'." + validValue
	case allowOriginMismatch:
		return prefix + "The 'Access-Control-Allow-Origin' header has a value '" + f.hint + "' that is not equal to the supplied origin." + validValue
	case wildcardOrigin:
		return prefix + "The value of the 'Access-Control-Allow-Origin' header in the response must not be the wildcard '*' when the request's credentials mode is 'include'."
	case invalidAllowCredentials:
		return prefix + "The value of the 'Access-Control-Allow-Credentials' header in the response is '" + f.hint + "' which must be 'true' when the request's credentials mode is 'include'."
	case preflightInvalidStatus:
		return prefix + "It does not have HTTP ok status."
	case preflightRedirect:
		return prefix + "Redirect is not allowed for a preflight request."
	case invalidAllowMethods:
		return "Cannot parse Access-Control-Allow-Methods response header field in preflight response."
	case invalidAllowHeaders:
		return "Cannot parse Access-Control-Allow-Headers response header field in preflight response."
	case methodDisallowed:
		return "Method " + f.hint + " is not allowed by Access-Control-Allow-Methods in preflight response."
	case headerDisallowed:
		return "Request header field " + f.hint + " is not allowed by Access-Control-Allow-Headers in preflight response."
	case redirectCredentials:
		return "Redirect location '" + f.hint + "' contains a username and password, which is disallowed for cross-origin requests."
	}
	return "unknown failure"
}

// hasWildcard reports whether the list header name contains "*".
func hasWildcard(h http.Header, name string) bool {
	list, _ := fetch.ParseTokenList(h.Values(name))
	return slices.Contains(list, "*")
}

// accessFailure is Fetch's CORS check, with Chromium's diagnosis of the value
// when it fails. origin is the serialized request origin ("null" once a
// redirect tainted it).
func accessFailure(h http.Header, origin string, credentials, preflight bool) *failure {
	values := h.Values("Access-Control-Allow-Origin")
	fail := func(k kind, hint string) *failure {
		return &failure{kind: k, hint: hint, preflight: preflight}
	}
	if len(values) == 0 {
		return fail(missingAllowOrigin, "")
	}
	acao := strings.Join(values, ", ") // as the browser's header map combines them
	switch {
	case acao == "*":
		if credentials {
			return fail(wildcardOrigin, "")
		}
		return nil
	case acao != origin:
		if strings.ContainsAny(acao, " ,") {
			return fail(multipleAllowOrigin, acao)
		}
		if acao == "null" {
			return fail(allowOriginMismatch, acao)
		}
		if u, err := url.Parse(acao); err != nil || u.Scheme == "" || (u.Host == "" && u.Opaque == "") {
			return fail(invalidAllowOrigin, acao)
		}
		return fail(allowOriginMismatch, acao)
	}
	if credentials {
		if acac := strings.Join(h.Values("Access-Control-Allow-Credentials"), ", "); acac != "true" {
			return fail(invalidAllowCredentials, acac)
		}
	}
	return nil
}

// preflightFailure applies the CORS-preflight fetch's checks (step 7) to a
// preflight response that was not a redirect.
func preflightFailure(resp *http.Response, origin, method string, headers []fetch.Header, credentials bool) *failure {
	if f := accessFailure(resp.Header, origin, credentials, true); f != nil {
		return f
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &failure{kind: preflightInvalidStatus, preflight: true}
	}
	methods, ok := fetch.ParseTokenList(resp.Header.Values("Access-Control-Allow-Methods"))
	if !ok {
		return &failure{kind: invalidAllowMethods, preflight: true}
	}
	allowed, ok := fetch.ParseTokenList(resp.Header.Values("Access-Control-Allow-Headers"))
	if !ok {
		return &failure{kind: invalidAllowHeaders, preflight: true}
	}
	if !fetch.MethodAllowed(methods, method, credentials) {
		return &failure{kind: methodDisallowed, hint: method, preflight: true}
	}
	unsafe, _ := fetch.UnsafeHeaderNames(headers)
	if name, refused := fetch.RefusedHeader(allowed, unsafe, credentials); refused {
		f := &failure{kind: headerDisallowed, hint: name, spelled: name, preflight: true}
		for _, h := range headers {
			if strings.EqualFold(h.Name, name) {
				f.spelled = h.Name
				break
			}
		}
		return f
	}
	return nil
}

// exposedHeaders splits the response's header names into those the
// script can read with response.headers.get() and those it cannot.
func exposedHeaders(h http.Header, credentials bool) (readable, hidden []string) {
	exposed, _ := fetch.ParseTokenList(h.Values("Access-Control-Expose-Headers"))
	all := !credentials && slices.Contains(exposed, "*")
	for name := range h {
		lower := strings.ToLower(name)
		if lower == "set-cookie" || lower == "set-cookie2" {
			hidden = append(hidden, name) // never exposed
			continue
		}
		if strings.HasPrefix(lower, "access-control-") {
			continue // the protocol's own headers: nobody needs to read them
		}
		if all || fetch.IsSafelistedResponseHeader(name) ||
			slices.ContainsFunc(exposed, func(s string) bool { return strings.EqualFold(s, name) }) {
			readable = append(readable, name)
		} else {
			hidden = append(hidden, name)
		}
	}
	slices.Sort(readable)
	slices.Sort(hidden)
	return readable, hidden
}
