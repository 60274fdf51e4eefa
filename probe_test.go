package cors

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestRegexpProbe runs regexps taken from CORS advice pages, framework docs
// and bug reports through the load-time probe: the holes must be caught,
// with the probe that proves them, and the careful ones must pass.
func TestRegexpProbe(t *testing.T) {
	tests := []struct {
		expr string
		want string // the probe that matches; "" when none may
	}{
		// Holes.
		{`.*`, "https://" + unownedLabel + ".invalid"},
		{`.+`, "https://" + unownedLabel + ".invalid"},
		{`https://.*`, "https://" + unownedLabel + ".invalid"},
		{`https?://.*`, "https://" + unownedLabel + ".invalid"},
		{`https://(www.)?example.com`, "https://examplexcom"},
		{`https://example.com`, "https://examplexcom"},
		{`https://api.example\.com`, "https://apixexample.com"},
		{`https://.*example\.com`, "https://" + unownedLabel + "example.com"},
		{`https://[a-z]*example\.com`, "https://" + unownedLabel + "example.com"},
		{`https://.*\.?example\.com`, "https://" + unownedLabel + "example.com"},
		{`https://example\.com.*`, "https://example.com." + unownedLabel + ".invalid"},
		{`https://(.*\.)?example\.com.*`, "https://example.com." + unownedLabel + ".invalid"},
		{`https://example\.com[a-z_]*\.?.*`, "https://example.com." + unownedLabel + ".invalid"},
		{`https://example\.com[a-z_.]*`, "https://example.com." + unownedLabel + ".invalid"},
		{`https?://(localhost|example\.com).*`, "https://example.com." + unownedLabel + ".invalid"},
		{`https://[^/]+`, "https://" + unownedLabel + ".invalid"},
		{`https://\w+\.example\.com|.*`, "https://" + unownedLabel + ".invalid"},
		{`https://(www\.)?example\.(com|org).*`, "https://example.com." + unownedLabel + ".invalid"},
		{`https://(www\.)?example\.(com|org)[^/]*`, "https://example.com." + unownedLabel + ".invalid"},
		{`https://example\.com\w+\..+`, "https://example.com_." + unownedLabel + ".invalid"},
		{`https://example\.com[^.]+\..*`, "https://example.com_." + unownedLabel + ".invalid"},
		// Careful ones. The module anchors every regexp at both ends, so a
		// missing ^ or $ is no hole here.
		{`^https://example\.com`, ""},
		{`https://example\.com/?`, ""},
		{`(https://)?.*\.example\.(com|org)`, ""},
		{`https://([a-z0-9-]+\.)*example\.com`, ""},
		{`https://[a-z0-9-]+\.example\.com`, ""},
		{`^https://(www\.)?example\.com$`, ""},
		{`https?://(www\.|api\.)?example\.com`, ""},
		{`https://.*\.example\.com`, ""},
		{`https://[a-z]+\.example\.(com|org)`, ""},
		{`http://localhost:\d+`, ""},
		{`http://127\.0\.0\.1:[0-9]{2,5}`, ""},
		{`https://pr-[0-9]+\.preview\.example\.com`, ""},
		{`chrome-extension://[a-p]{32}`, ""},
		{`https://(app|admin)\.example\.com(:\d+)?`, ""},
		// Regexps that only probes no browser can send would match: a host
		// whose last label is a number is an IPv4 address to a browser, and
		// a label is at most 63 bytes.
		{`https://[a-z]+10\.0\.0\.1`, ""},
		{`https://[a-z]*` + strings.Repeat("a", 60) + `\.example\.com`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			re := regexp.MustCompile(`^(?:` + tt.expr + `)$`)
			got, _ := matchedProbe(re, tt.expr)
			if got != tt.want {
				t.Errorf("probe = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestRegexpProbeVerdicts pins that a matched probe is an error with
// credentials and a warning without, for the same regexps.
func TestRegexpProbeVerdicts(t *testing.T) {
	for _, expr := range []string{`.*`, `https://(www.)?example.com`, `https://example\.com.*`} {
		for _, credentials := range []bool{true, false} {
			h := Handler{OriginRegexp: []string{expr}, AllowCredentials: credentials}
			_, problems, warnings := compile(&h)
			if credentials && (len(problems) != 1 || len(warnings) != 0) || !credentials && (len(problems) != 0 || len(warnings) != 1) {
				t.Errorf("%q credentials=%v: problems %v, warnings %v", expr, credentials, problems, warnings)
			}
		}
	}
}

// TestRegexpDomains pins the domain names the probes are built from: each
// name in lower case, and each group of alternatives read once per
// alternative, the nth name taking the nth of every group (or its last).
func TestRegexpDomains(t *testing.T) {
	for _, tt := range []struct {
		expr string
		want []string
	}{
		{`https://example\.com`, []string{"example.com"}},
		{`https://([a-z0-9-]+\.)*Example\.COM`, []string{"example.com"}},
		{`https://(www|api)\.example\.(com|org|net)`, []string{"www.example.com", "api.example.org", "api.example.net"}},
		{`https://app\.example\.(com|org)|https://example\.com`, []string{"app.example.com", "example.com", "app.example.org"}},
		{`.*`, nil},
	} {
		if got := regexpDomains(tt.expr); !slices.Equal(got, tt.want) {
			t.Errorf("regexpDomains(%s) = %q, want %q", tt.expr, got, tt.want)
		}
	}
}
