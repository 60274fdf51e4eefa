package check

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestURLOriginAndString pins the two ways a URL is printed. Its origin:
// the host in lower case, IPv6 in brackets, and the port unless it is the
// default of the URL's own scheme. Its console form, as Chromium prints
// it: a lower-case host, at least "/" as the path, no fragment.
func TestURLOriginAndString(t *testing.T) {
	for _, tc := range []struct {
		url, origin, str string
	}{
		{"http://A.example:80", "http://a.example", "http://a.example:80/"},
		{"https://a.example:443/", "https://a.example", "https://a.example:443/"},
		{"http://a.example:443", "http://a.example:443", "http://a.example:443/"},
		{"https://a.example:80", "https://a.example:80", "https://a.example:80/"},
		{"https://a.example:8443#", "https://a.example:8443", "https://a.example:8443/"},
		{"http://[::1]:8080/", "http://[::1]:8080", "http://[::1]:8080/"},
		{"http://[::1]:80/", "http://[::1]", "http://[::1]:80/"},
		{"http://a.example/p?q#f", "http://a.example", "http://a.example/p?q"},
		{"http://a.example/a%2Fb", "http://a.example", "http://a.example/a%2Fb"},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := urlOrigin(u); got != tc.origin {
			t.Errorf("urlOrigin(%s) = %s, want %s", tc.url, got, tc.origin)
		}
		if got := urlString(u); got != tc.str {
			t.Errorf("urlString(%s) = %s, want %s", tc.url, got, tc.str)
		}
	}
}

// TestSiteIsTheRegistrableDomain pins the schemeful site Sec-Fetch-Site
// compares: the registrable domain of a name, an IP address or a name
// with none as it is.
func TestSiteIsTheRegistrableDomain(t *testing.T) {
	for in, want := range map[string]string{
		"https://www.example.co.uk":    "https://example.co.uk",
		"https://a.b.example.com:8443": "https://example.com",
		"http://example.com":           "http://example.com",
		"http://127.0.0.1:8080":        "http://127.0.0.1",
		"http://[::1]":                 "http://::1",
		"http://localhost:8080":        "http://localhost",
		"https://github.io":            "https://github.io",
		"null":                         "",
	} {
		if got := site(in); got != want {
			t.Errorf("site(%s) = %q, want %q", in, got, want)
		}
	}
}

// TestSerializeOriginAsABrowserSendsIt pins --origin's reading: the
// scheme and host in lower case, a default port dropped, anything a
// browser never sends refused.
func TestSerializeOriginAsABrowserSendsIt(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      string
	}{
		{"https://App.Example.com", "https://app.example.com", ""},
		{"HTTPS://a.example:443", "https://a.example", ""},
		{"http://a.example:80", "http://a.example", ""},
		{"http://a.example:443", "http://a.example:443", ""},
		{"https://a.example:80", "https://a.example:80", ""},
		{"https://[::1]:443", "https://[::1]", ""},
		{"null", "null", ""},
		{"https://a.example/", "", `has a trailing slash: a browser sends "https://a.example"`},
		{"https://a.example:443/x", "", `is a URL, not an origin: a browser sends "https://a.example"`},
		{"a.example", "", "is not an origin"},
	} {
		got, err := serializeOrigin(tc.in)
		if got != tc.want || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("serializeOrigin(%q) = %q, %v; want %q, error containing %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// TestPrepareNotesARepeatedHeaderOnce pins the note on a header given more
// than once: once, however many times.
func TestPrepareNotesARepeatedHeaderOnce(t *testing.T) {
	p, err := prepare(Request{URL: "http://api.example.test/", Origin: pageOrigin,
		Headers: []string{"X-A: 1", "x-a: 2", "X-A: 3"}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, note := range p.notes {
		if strings.Contains(note, "is given more than once") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d notes of a repeated header, want 1: %q", n, p.notes)
	}
}

// TestPrepareAddsAcceptUnlessTheScriptSetsIt pins the Accept header fetch()
// adds, */*, which a script's own Accept replaces.
func TestPrepareAddsAcceptUnlessTheScriptSetsIt(t *testing.T) {
	for _, tc := range []struct {
		headers []string
		want    []string
	}{
		{[]string{"X-A: 1"}, []string{"*/*"}},
		{[]string{"X-A: 1", "accept: text/csv"}, []string{"text/csv"}},
		{nil, []string{"*/*"}},
	} {
		p, err := prepare(Request{URL: "http://api.example.test/", Origin: pageOrigin, Headers: tc.headers})
		if err != nil {
			t.Fatal(err)
		}
		var accept []string
		for _, h := range p.headers {
			if strings.EqualFold(h.Name, "Accept") {
				accept = append(accept, h.Value)
			}
		}
		if !slices.Equal(accept, tc.want) {
			t.Errorf("headers %q: Accept values %q, want %q", tc.headers, accept, tc.want)
		}
	}
}
