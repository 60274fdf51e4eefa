package check

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/caddy-cors/cors/internal/fetch"
	"golang.org/x/net/http/httpguts"
)

// serializeOrigin parses an --origin value into the string a browser
// sends, refusing anything a browser would never send.
func serializeOrigin(s string) (string, error) {
	if s == "null" {
		return s, nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Opaque != "" {
		return "", fmt.Errorf("--origin %q is not an origin: write scheme://host[:port], e.g. https://app.example.com", s)
	}
	clean := &url.URL{Scheme: strings.ToLower(u.Scheme), Host: strings.ToLower(u.Host)}
	if port := u.Port(); (clean.Scheme == "http" && port == "80") || (clean.Scheme == "https" && port == "443") {
		clean.Host = strings.ToLower(u.Hostname())
		if strings.Contains(clean.Host, ":") {
			clean.Host = "[" + clean.Host + "]"
		}
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return "", fmt.Errorf("--origin %q is a URL, not an origin: a browser sends %q", s, clean.String())
	}
	if u.Path == "/" {
		return "", fmt.Errorf("--origin %q has a trailing slash: a browser sends %q", s, clean.String())
	}
	return clean.String(), nil
}

// plan is a validated Request.
type plan struct {
	url         *url.URL
	origin      string
	method      string
	headers     []fetch.Header
	credentials bool
	body        bool
	notes       []string
	implicit    int // trailing headers fetch() adds itself (Accept: */*)
}

// prepare validates in like fetch() and the Headers class do: where
// they throw a TypeError, it returns an error; where the browser silently
// drops a header, it notes it.
func prepare(in Request) (*plan, error) {
	p := &plan{credentials: in.Credentials}
	if in.URL == "" {
		return nil, errors.New("missing the URL to check: caddy cors check <url> --origin <origin>")
	}
	u, err := url.Parse(in.URL)
	if err != nil {
		return nil, fmt.Errorf("bad URL %q: %v", in.URL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("bad URL %q: only absolute http:// and https:// URLs can be checked", in.URL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("bad URL %q: fetch() refuses URLs with a username or password", in.URL)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Fragment, u.RawFragment = "", ""
	p.url = u

	if in.Origin == "" {
		return nil, errors.New("missing --origin: the origin of the page that calls fetch(), e.g. --origin https://app.example.com")
	}
	if p.origin, err = serializeOrigin(in.Origin); err != nil {
		return nil, err
	}

	p.method = in.Method
	if p.method == "" {
		p.method = "GET"
		if in.BodyType != "" {
			p.method = "POST"
		}
	}
	if !fetch.IsToken(p.method) {
		return nil, fmt.Errorf("bad --method %q: a method is an HTTP token", in.Method)
	}
	switch strings.ToUpper(p.method) {
	case "CONNECT", "TRACE", "TRACK":
		return nil, fmt.Errorf("--method %s: fetch() refuses this method", p.method)
	}
	p.method = fetch.NormalizeMethod(p.method)
	p.body = in.BodyType != ""
	if p.body && (p.method == "GET" || p.method == "HEAD") {
		return nil, fmt.Errorf("--body-type with %s: fetch() refuses a body on GET and HEAD requests", p.method)
	}

	hasType, hasAccept := false, false
	seen := make(map[string]int)
	for _, raw := range in.Headers {
		name, value, ok := strings.Cut(raw, ":")
		if !ok || !fetch.IsToken(name) {
			return nil, fmt.Errorf("bad --header %q: write 'Name: value'", raw)
		}
		value = strings.Trim(value, " \t\r\n") // Fetch normalizes header values
		if !httpguts.ValidHeaderFieldValue(value) {
			return nil, fmt.Errorf("bad --header %q: the value contains a control character", raw)
		}
		if fetch.IsForbiddenRequestHeader(name, value) {
			p.notes = append(p.notes, fmt.Sprintf("%s is a forbidden request header: fetch() drops it silently, so it is not sent", name))
			continue
		}
		lower := strings.ToLower(name)
		hasType = hasType || lower == "content-type"
		hasAccept = hasAccept || lower == "accept"
		seen[lower]++
		if seen[lower] == 2 {
			p.notes = append(p.notes, fmt.Sprintf("%s is given more than once: the Fetch standard judges each value separately (this check does); Chromium joins them with \", \" first, so its 128-byte limit may trigger a preflight sooner", name))
		}
		p.headers = append(p.headers, fetch.Header{Name: name, Value: value})
	}
	if p.body && !hasType {
		p.headers = append(p.headers, fetch.Header{Name: "Content-Type", Value: in.BodyType})
	}
	// fetch() adds Accept before deciding on a preflight, so it counts
	// towards the 1024-byte limit.
	if !hasAccept {
		p.headers = append(p.headers, fetch.Header{Name: "Accept", Value: "*/*"})
		p.implicit = 1
	}
	return p, nil
}
