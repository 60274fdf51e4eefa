package cors

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseRequestOriginAcceptsSerializedOrigins(t *testing.T) {
	for _, o := range []string{
		"https://example.com",
		"http://localhost:5173",
		"https://a.b.c.example.com:8443",
		"http://127.0.0.1:8080",
		"http://[::1]:3000",
		"http://[2001:db8::1]",
		"https://xn--bcher-kva.example",
		"chrome-extension://abcdefghijklmnopabcdefghijklmnop",
		"moz-extension://0b7c4f52-8d1d-4b7c-9a1f-3f2d1f0e9a11",
		"capacitor://localhost",
		"tauri://localhost",
		"https://my_host.example.com",
		"https://example.com:0",
		"https://example.com:65535",
	} {
		if _, ok := parseRequestOrigin(o); !ok {
			t.Errorf("parseRequestOrigin(%q) refused a well-formed origin", o)
		}
	}
}

func TestParseRequestOriginRefusesMalformedOrigins(t *testing.T) {
	for _, o := range []string{
		"", "null", "*", "example.com", "://example.com", "https://", "https:///",
		"https://example.com/", "https://example.com/path", "https://example.com?q", "https://example.com#f",
		"https://EXAMPLE.com", "HTTPS://example.com", "https://Example.com",
		"https://example.com:443", "http://example.com:80", "https://example.com:", "https://example.com:0443",
		"https://example.com:65536", "https://example.com:99999", "https://example.com:8a",
		"https://example.com.", "https://.example.com", "https://a..example.com",
		"https://user@example.com", "https://user:pw@example.com", "https://example.com@evil.net",
		"https://exa mple.com", "https://exa%6Dple.com", "https://example.com\x00", "https://ex\tample.com",
		"https://[::1", "https://[::1]x", "https://[0:0:0:0:0:0:0:1]", "https://[fe80::1%25eth0]", "https://[127.0.0.1]",
		"https://1.2.3", "https://999.1.1.1", "https://01.2.3.4", "https://0x7f.0.0.1", "https://example.0x1f",
		"https://a:b:c", "1https://example.com", "ht_tp://example.com",
		"https://" + strings.Repeat("a", 64) + ".com",
		"https://" + strings.Repeat("a.", 127) + "com",
		"https://" + strings.Repeat("a", 64<<10),
	} {
		if _, ok := parseRequestOrigin(o); ok {
			t.Errorf("parseRequestOrigin(%q) accepted a malformed origin", o)
		}
	}
}

func TestParseAllowedOriginNormalizes(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://Example.COM", "https://example.com"},
		{"HTTPS://example.com:443", "https://example.com"},
		{"http://example.com:80", "http://example.com"},
		{"http://example.com:8080", "http://example.com:8080"},
		{"https://example.com:08443", "https://example.com:8443"},
		{"https://bücher.example", "https://xn--bcher-kva.example"},
		{"https://*.Example.com", "https://*.example.com"},
		{"https://*.example.com:*", "https://*.example.com:*"},
		{"http://localhost:*", "http://localhost:*"},
		{"http://[0:0:0:0:0:0:0:1]:8080", "http://[::1]:8080"},
		{"chrome-extension://abcdefghijklmnop", "chrome-extension://abcdefghijklmnop"},
		{"capacitor://localhost", "capacitor://localhost"},
	}
	for _, tt := range tests {
		p, err := parseAllowedOrigin(tt.in)
		if err != nil {
			t.Errorf("parseAllowedOrigin(%q): %v", tt.in, err)
			continue
		}
		if got := p.String(); got != tt.want {
			t.Errorf("parseAllowedOrigin(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if _, ok := parseRequestOrigin(p.String()); !p.subdomains && !p.anyPort && !ok {
			t.Errorf("normalized %q is not an origin a browser sends", p.String())
		}
	}
}

// TestParseAllowedOriginErrorsShowTheFix pins that each configuration mistake
// is refused with a message naming the corrected origin or the rule.
func TestParseAllowedOriginErrorsShowTheFix(t *testing.T) {
	tests := []struct{ in, wantInMsg string }{
		{"https://example.com/", `write "https://example.com"`},
		{"https://example.com/api", `write "https://example.com"`},
		{"https://Example.com:443/?q=1", `write "https://example.com"`},
		{"https://example.com#top", `write "https://example.com"`},
		{"https://user:pw@example.com", `write "https://example.com"`},
		{"example.com", `write "https://example.com"`},
		{"https://ex*ample.com", "wildcard may only stand as the first label"},
		{"https://*example.com", "wildcard may only stand as the first label"},
		{"https://a.*.example.com", "wildcard may only stand as the first label"},
		{"*.example.com", `no scheme`},
		{"https://example.com.", `the host has a trailing dot, which browsers keep in the origin; write it without: "example.com"`},
		{"https://.", `"." is not a valid host name`},
		{"https://exa_mple..com", "not a valid host name"},
		{"https://example.com:99999", "not a port"},
		{"https://example.com:", "invalid port"},
		{"https://*.127.0.0.1", "no subdomains"},
		{"file://", "null"},
		{"file:///home/me/index.html", "null"},
		{"1http://example.com", "invalid scheme"},
		{"https://[::1", "IPv6"},
	}
	for _, tt := range tests {
		_, err := parseAllowedOrigin(tt.in)
		if err == nil {
			t.Errorf("parseAllowedOrigin(%q) accepted it", tt.in)
			continue
		}
		if !strings.Contains(err.Error(), tt.wantInMsg) {
			t.Errorf("parseAllowedOrigin(%q) = %q, want it to contain %q", tt.in, err, tt.wantInMsg)
		}
	}
}

func newMatcher(t testing.TB, origins []string, regexps ...string) *allowList {
	t.Helper()
	p, problems, _ := compile(&Handler{Origins: origins, OriginRegexp: regexps})
	if len(problems) > 0 {
		t.Fatalf("compile(%q): %v", origins, problems)
	}
	return &p.origins
}

func TestAllowList(t *testing.T) {
	tests := []struct {
		policy  []string
		regexps []string
		allowed []string
		refused []string
	}{
		{
			policy:  []string{"https://example.com"},
			allowed: []string{"https://example.com"},
			refused: []string{"http://example.com", "https://example.com:8443", "https://a.example.com", "https://example.co", "https://example.comm"},
		},
		{
			policy:  []string{"https://*.example.com"},
			allowed: []string{"https://a.example.com", "https://a.b.c.example.com", "https://xn--bcher-kva.example.com", "https://1.example.com"},
			refused: []string{"https://example.com", "http://a.example.com", "https://a.example.com:8443", "https://evilexample.com", "https://a.evilexample.com"},
		},
		{
			policy:  []string{"https://*.example.com:*"},
			allowed: []string{"https://a.example.com", "https://a.example.com:8443"},
			refused: []string{"https://example.com:8443", "http://a.example.com:8443"},
		},
		{
			policy:  []string{"http://localhost:*"},
			allowed: []string{"http://localhost", "http://localhost:5173", "http://localhost:1"},
			refused: []string{"https://localhost:5173", "http://a.localhost:5173", "http://localhost.evil.net:5173", "http://127.0.0.1:5173"},
		},
		{
			policy:  []string{"http://localhost:3000", "http://localhost:4000"},
			allowed: []string{"http://localhost:3000", "http://localhost:4000"},
			refused: []string{"http://localhost", "http://localhost:5000"},
		},
		{
			policy:  []string{"null"},
			allowed: []string{"null"},
			refused: []string{"Null", "NULL", "null ", "https://null"},
		},
		{
			policy:  []string{"https://example.com"},
			refused: []string{"null"},
		},
		{
			policy:  []string{"https://example.com"},
			regexps: []string{`https://[a-z0-9-]+\.example\.org`},
			allowed: []string{"https://example.com", "https://preview-1.example.org"},
			refused: []string{"https://a.b.example.org", "https://preview-1.example.org/", "https://preview-1.example.org.evil.net", "https://x.example.org:443", "https://PREVIEW.example.org", "xhttps://a.example.org"},
		},
		{
			policy:  []string{"http://[::1]:8080", "http://127.0.0.1:*"},
			allowed: []string{"http://[::1]:8080", "http://127.0.0.1", "http://127.0.0.1:9"},
			refused: []string{"http://[::1]", "http://[0::1]:8080", "http://127.0.0.2"},
		},
	}
	for _, tt := range tests {
		t.Run(strings.Join(append(tt.policy, tt.regexps...), " "), func(t *testing.T) {
			checkMatch(t, newMatcher(t, tt.policy, tt.regexps...), tt.allowed, tt.refused)
		})
	}
}

// checkMatch checks that m allows each of allowed and none of refused.
func checkMatch(t *testing.T, m *allowList, allowed, refused []string) {
	t.Helper()
	for _, o := range allowed {
		if !m.match(o) {
			t.Errorf("match(%q) = false, want true", o)
		}
	}
	for _, o := range refused {
		if m.match(o) {
			t.Errorf("match(%q) = true, want false", o)
		}
	}
}

// TestMisconfigurationProbes runs the probes CORS scanners and the PortSwigger
// research send (reflection, prefix, suffix, substring, unescaped dot,
// special characters after the host, null, http downgrade, third-party
// hosts) against exact, subdomain and regexp policies: none may be granted.
func TestMisconfigurationProbes(t *testing.T) {
	const domain = "example.com"
	probes := []string{
		"https://evil.net", "https://attacker.com",
		// prefix and suffix tricks
		"https://example.com.evil.net", "https://example.comevil.net", "https://evilexample.com",
		"https://example.com_.evil.net", "https://example.com-.evil.net", "https://example.co",
		"https://xexample.com", "https://example.com.", "https://wwwexample.com",
		// unescaped dot
		"https://wwwxexample.com", "https://apixexample.com", "https://examplexcom",
		// special characters after the host
		"https://example.com`.evil.net", "https://example.com!.evil.net", "https://example.com$.evil.net",
		"https://example.com&.evil.net", "https://example.com'.evil.net", "https://example.com(.evil.net",
		"https://example.com*.evil.net", "https://example.com+.evil.net", "https://example.com,.evil.net",
		"https://example.com;.evil.net", "https://example.com=.evil.net", "https://example.com%60.evil.net",
		"https://example.com}.evil.net", "https://example.com{.evil.net", "https://example.com|.evil.net",
		"https://example.com~.evil.net", "https://example.com\".evil.net",
		"https://evil.net/.example.com", "https://evil.net/example.com", "https://evil.net?.example.com",
		"https://evil.net#.example.com", "https://evil.net\\.example.com", "https://evil.net%2f.example.com",
		"https://example.com@evil.net", "https://evil.net@example.com", "https://evil.net:@example.com",
		"https://example.com:443@evil.net", "https://evil.net%00.example.com", "https://evil.net\x00.example.com",
		// null and case and downgrade
		"null", "NULL", "https://EXAMPLE.com", "https://WWW.example.com", "https://www.example.com:443",
		"http://example.com", "http://www.example.com", "ws://example.com", "file://example.com",
		// third-party hosts people put patterns over
		"https://example.com.s3.amazonaws.com", "https://example-com.github.io", "https://example.com.herokuapp.com",
		// two values on one line, and white space
		"https://www.example.com, https://evil.net", "https://www.example.com https://evil.net",
		" https://www.example.com", "https://www.example.com ", "\thttps://www.example.com",
	}
	policies := []struct {
		name    string
		origins []string
		regexps []string
	}{
		{"Exact", []string{"https://" + domain, "https://www." + domain}, nil},
		{"Subdomain", []string{"https://*." + domain}, nil},
		{"Regexp", nil, []string{`https://([a-z0-9-]+\.)*example\.com`}},
		{"Many", manyOrigins(500, 20), nil},
	}
	for _, pol := range policies {
		t.Run(pol.name, func(t *testing.T) {
			m := newMatcher(t, pol.origins, pol.regexps...)
			for _, probe := range probes {
				if m.match(probe) {
					t.Errorf("probe %q was granted", probe)
				}
			}
			if !m.match("https://www." + domain) {
				t.Errorf("the legitimate origin was refused")
			}
		})
	}
}

// manyOrigins builds a policy of n exact origins and k subdomain patterns,
// including www.example.com among the exact ones.
func manyOrigins(n, k int) []string {
	out := make([]string, 0, n+k)
	for i := range n - 1 {
		out = append(out, fmt.Sprintf("https://app%d.customer%d.example.net", i, i))
	}
	out = append(out, "https://www.example.com")
	for i := range k {
		out = append(out, fmt.Sprintf("https://*.tenant%d.example.org", i))
	}
	return out
}

func TestOnPublicSuffix(t *testing.T) {
	for in, want := range map[string]bool{
		"https://*.com":               true,
		"https://*.co.uk":             true,
		"https://*.github.io":         true,
		"https://*.example.com":       false,
		"https://*.example.github.io": false,
		"http://*.localhost":          false,
		"https://example.com":         false,
	} {
		p, err := parseAllowedOrigin(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.onPublicSuffix(); got != want {
			t.Errorf("onPublicSuffix(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestOriginLimits pins each limit of an origin at the value itself and one
// past it: 64-byte schemes, 63-byte labels, 253-byte hosts, port 65535 (and
// 0, which URLs allow), the shortest IPv6 literal, and the hosts a browser
// reads as IPv4 addresses (a last label in decimal or 0x hex).
func TestOriginLimits(t *testing.T) {
	label := strings.Repeat("a", 63)
	host := label + "." + label + "." + label + "." + strings.Repeat("a", 61) // 253 bytes
	scheme := strings.Repeat("s", 64)
	for _, tt := range []struct {
		origin string
		want   bool
	}{
		{scheme + "://" + host + ":65535", true}, // the longest origin there is
		{scheme + "s://" + host + ":65535", false},
		{"https://" + host + "a", false},
		{"https://" + label + ".com", true},
		{"https://" + label + "a.com", false},
		{"http://a.com:65535", true},
		{"http://a.com:65536", false},
		{"http://[::]", true},
		{"http://[::]:8080", true},
		{"https://a.0", false}, {"https://a.9", false}, {"https://a.0x0", false}, {"https://a.0x9", false},
		{"https://a.0xa", false}, {"https://a.0xf", false}, {"https://a.0xg", true}, {"https://a.9z", true},
		{"https://a./", false},
		{"https://:443", false},
	} {
		if _, ok := parseRequestOrigin(tt.origin); ok != tt.want {
			t.Errorf("parseRequestOrigin(%.80q) = %v, want %v", tt.origin, ok, tt.want)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{scheme + "://a.com", scheme + "://a.com"},
		{"http://localhost:0", "http://localhost:0"},
		{"http://localhost:65535", "http://localhost:65535"},
	} {
		if p, err := parseAllowedOrigin(tt.in); err != nil || p.String() != tt.want {
			t.Errorf("parseAllowedOrigin(%.80q) = %q, %v; want %q", tt.in, p.String(), err, tt.want)
		}
	}
	for _, tt := range []struct{ in, wantInMsg string }{
		{scheme + "s://a.com", "invalid scheme"},
		{"http://localhost:65536", "not a port"},
		{"https://:8080", `"" is not a valid host name`},
		{"://example.com", "invalid scheme"},
		{"https:///x", `"" is not a valid host name`},
		{"https://@example.com", `an origin has no user name or password; write "https://example.com"`},
		{"https://a\x80.com", "not a valid international host name"},
	} {
		if _, err := parseAllowedOrigin(tt.in); err == nil || !strings.Contains(err.Error(), tt.wantInMsg) {
			t.Errorf("parseAllowedOrigin(%.80q) = %v, want an error containing %q", tt.in, err, tt.wantInMsg)
		}
	}
}

// TestAllowListSuffixOf64Bytes pins the matcher at the length where a
// pattern's suffix no longer fits the bit set of suffix lengths.
func TestAllowListSuffixOf64Bytes(t *testing.T) {
	for _, n := range []int{63, 64, 65} {
		suffix := strings.Repeat("a", n-4) + ".com"
		m := newMatcher(t, []string{"https://*." + suffix})
		if !m.match("https://x." + suffix) {
			t.Errorf("%d-byte suffix: a subdomain is refused", n)
		}
		if m.match("https://x.b" + suffix) {
			t.Errorf("%d-byte suffix: a longer name is granted", n)
		}
	}
}
