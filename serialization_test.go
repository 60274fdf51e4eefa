package cors

import (
	"net/netip"
	"strings"
	"testing"
)

// The Fetch standard defines the serialized origin (whatwg/fetch PR 1924):
// lower-case ASCII scheme and host, no percent-encoding, IPv6 as the URL
// standard serializes it (compressed, lower case, no leading zeros, no
// dotted IPv4 part), no default port, and "null" compared byte for byte.
// These tests pin each rule from both sides: a configured origin in any
// spelling stores that form (or is an error that shows it), and an Origin
// header in any other form matches nothing.

// TestConfiguredOriginsAreFetchSerialized pins the configuration side. A row
// with want allows exactly that origin, and not the spelling written (a
// browser never sends it); a row with err is a config error that says so.
func TestConfiguredOriginsAreFetchSerialized(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // the serialized origin the config allows
		err      string // or the error it gets
	}{
		// IPv6: compressed, lower case, no leading zeros, no dotted part.
		{"IPv6Compressed", "http://[0:0::1]:8080", "http://[::1]:8080", ""},
		{"IPv6Expanded", "http://[0:0:0:0:0:0:0:1]", "http://[::1]", ""},
		{"IPv6Unspecified", "http://[0:0:0:0:0:0:0:0]", "http://[::]", ""},
		{"IPv6UpperCase", "http://[2001:DB8::1]", "http://[2001:db8::1]", ""},
		{"IPv6LeadingZeros", "http://[2001:0DB8:0000:0000:0000:0000:0000:0001]", "http://[2001:db8::1]", ""},
		{"IPv6LongestZeroRunCompressed", "http://[1:0:0:2:0:0:0:3]", "http://[1:0:0:2::3]", ""},
		{"IPv6FirstOfEqualRunsCompressed", "http://[1:0:0:2:0:0:3:4]", "http://[1::2:0:0:3:4]", ""},
		{"IPv6SingleZeroNotCompressed", "http://[1::3:4:5:6:7:8]", "http://[1:0:3:4:5:6:7:8]", ""},
		{"IPv4MappedInHex", "http://[::FFFF:1.2.3.4]", "http://[::ffff:102:304]", ""},
		{"IPv4MappedInHexWithPort", "http://[::ffff:127.0.0.1]:8080", "http://[::ffff:7f00:1]:8080", ""},
		{"IPv4CompatibleInHex", "http://[::1.2.3.4]", "http://[::102:304]", ""},
		{"IPv6Zone", "http://[fe80::1%25eth0]", "", `has a zone (%25eth0), which no URL may carry, so no page has this origin; write "[fe80::1]"`},
		{"IPv4InBrackets", "http://[1.2.3.4]", "", "is not an IPv6 address"},
		{"IPv6ZoneWithoutAddress", "http://[%25eth0]", "", "is not an IPv6 address; write it in brackets, e.g. http://[::1]:8080"},

		// Case: scheme and host folded, international names in punycode.
		{"UpperCaseSchemeAndHost", "HTTPS://APP.Example.COM", "https://app.example.com", ""},
		{"UpperCaseAppScheme", "Chrome-Extension://ABCDEFGHIJKLMNOP", "chrome-extension://abcdefghijklmnop", ""},
		{"UpperCaseInternationalHost", "https://BÜCHER.example", "https://xn--bcher-kva.example", ""},
		{"UpperCasePattern", "https://*.EXAMPLE.com", "", ""},

		// Percent-encoding: decoded as the URL parser does, then refused
		// with the decoded origin to write.
		{"PercentEncodedDot", "https://app%2Eexample.com", "", `an origin has no percent-encoding (browsers decode the host); write "https://app.example.com"`},
		{"PercentEncodedLetterWithPort", "https://%61pp.example.com:8443", "", `write "https://app.example.com:8443"`},
		{"PercentEncodedPattern", "https://*.%45xample.com", "", `write "https://*.example.com"`},
		{"PercentEncodedUTF8", "https://b%C3%BCcher.example", "", `write "https://xn--bcher-kva.example"`},
		{"PercentEncodedIPv4", "http://127%2E0.0.1", "", `write "http://127.0.0.1"`},
		{"PercentEncodedWildcard", "https://%2A.example.com", "", `is not a valid host name: it decodes to "*.example.com"`},
		{"PercentEncodedSlash", "https://app.example.com%2F", "", `it decodes to "app.example.com/"`},
		{"PercentEncodedTwice", "https://a%252Ecom", "", "browsers decode it once"},
		{"PercentNotAnEscape", "https://app%zz.com", "", "a % must start an escape"},
		{"PercentEncodedInvalidHost", "https://a%20b.com", "", `"a%20b.com" decodes to "a b.com", and "a b.com" is not a valid host name`},

		// Default ports dropped, for the scheme they are the default of.
		{"HTTPSDefaultPort", "https://a.com:443", "https://a.com", ""},
		{"HTTPDefaultPort", "http://a.com:80", "http://a.com", ""},
		{"WSSDefaultPort", "wss://a.com:443", "wss://a.com", ""},
		{"WSDefaultPort", "ws://a.com:80", "ws://a.com", ""},
		{"DefaultPortWithLeadingZero", "https://a.com:0443", "https://a.com", ""},
		{"HTTPPortOnHTTPS", "https://a.com:80", "https://a.com:80", ""},
		{"HTTPSPortOnHTTP", "http://a.com:443", "http://a.com:443", ""},
		{"AppSchemeHasNoDefaultPort", "chrome-extension://abc:443", "chrome-extension://abc:443", ""},
		{"IPv6DefaultPort", "https://[::1]:443", "https://[::1]", ""},

		// "null" is case-sensitive.
		{"Null", "null", "null", ""},
		{"NullUpperCase", "NULL", "", `"NULL": the origin of sandboxed and file:// pages is "null", in lower case, and browsers send no other spelling: write null`},
		{"NullCapitalized", "Null", "", "write null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, problems, _ := compile(&Handler{Origins: []string{tt.in}})
			if tt.err != "" {
				if len(problems) != 1 || !strings.Contains(problems[0].msg, tt.err) {
					t.Fatalf("compile(%q): problems %v, want one containing %q", tt.in, problems, tt.err)
				}
				return
			}
			if len(problems) > 0 {
				t.Fatalf("compile(%q): %v", tt.in, problems)
			}
			if tt.want == "" {
				return // a pattern: TestAllowList matches them
			}
			if !p.origins.match(tt.want) {
				t.Errorf("%q does not allow %q", tt.in, tt.want)
			}
			if tt.in != tt.want && p.origins.match(tt.in) {
				t.Errorf("%q allows its own spelling %q, which no browser sends", tt.in, tt.in)
			}
			if tt.want != "null" {
				o, _ := parseAllowedOrigin(tt.in)
				if got := o.String(); got != tt.want {
					t.Errorf("parseAllowedOrigin(%q) = %q, want %q", tt.in, got, tt.want)
				}
			}
		})
	}
}

// TestOnlySerializedOriginsMatch pins the request side: an Origin header is
// matched only in the form Fetch serializes, whatever the config says.
func TestOnlySerializedOriginsMatch(t *testing.T) {
	tests := []struct {
		name    string
		policy  []string
		allowed []string
		refused []string // spellings no browser sends: refused unparsed
		others  []string // well-formed origins the policy does not allow
	}{
		{"IPv6Loopback", []string{"http://[0:0::1]:8080"},
			[]string{"http://[::1]:8080"},
			[]string{"http://[0:0::1]:8080", "http://[0::1]:8080", "http://[0:0:0:0:0:0:0:1]:8080", "http://[::0:1]:8080", "http://[::1]:08080"},
			[]string{"http://[::1]"}},
		{"IPv6Documentation", []string{"https://[2001:DB8::1]"},
			[]string{"https://[2001:db8::1]"},
			[]string{"https://[2001:DB8::1]", "https://[2001:0db8::1]", "https://[2001:db8:0:0:0:0:0:1]", "https://[2001:db8::0001]", "https://[2001:db8::1]:443"}, nil},
		{"IPv4Mapped", []string{"http://[::ffff:1.2.3.4]"},
			[]string{"http://[::ffff:102:304]"},
			[]string{"http://[::ffff:1.2.3.4]", "http://[::FFFF:102:304]", "http://[0:0:0:0:0:ffff:102:304]"},
			[]string{"http://1.2.3.4", "http://[::102:304]"}},
		{"IPv6ZeroRuns", []string{"http://[1:0:0:2:0:0:3:4]", "http://[1:0:3:4:5:6:7:8]"},
			[]string{"http://[1::2:0:0:3:4]", "http://[1:0:3:4:5:6:7:8]"},
			[]string{"http://[1:0:0:2::3:4]", "http://[1:0:0:2:0:0:3:4]", "http://[1::3:4:5:6:7:8]"}, nil},
		{"IPv6AnyPort", []string{"http://[::1]:*"},
			[]string{"http://[::1]", "http://[::1]:5173"},
			[]string{"http://[0::1]:5173", "http://[::1]:80", "http://[::1%25lo]:5173"}, nil},
		{"Case", []string{"HTTPS://App.Example.com"},
			[]string{"https://app.example.com"},
			[]string{"HTTPS://app.example.com", "https://App.Example.com", "https://APP.EXAMPLE.COM", "Https://app.example.com"}, nil},
		{"CaseUnderPattern", []string{"https://*.example.com"},
			[]string{"https://a.example.com"},
			[]string{"https://A.example.com", "https://a.EXAMPLE.com", "https://a.example.COM"}, nil},
		{"PercentEncoding", []string{"https://app.example.com", "https://*.example.org"},
			[]string{"https://app.example.com", "https://a.example.org"},
			[]string{"https://app%2Eexample.com", "https://%61pp.example.com", "https://app.example.co%6D", "https://a%2Eexample.org", "https://%61.example.org"}, nil},
		{"DefaultPorts", []string{"https://a.com", "http://a.com", "wss://a.com", "ws://a.com", "https://*.b.com", "https://c.com:*"},
			[]string{"https://a.com", "http://a.com", "wss://a.com", "ws://a.com", "https://x.b.com", "https://c.com", "https://c.com:8443"},
			[]string{"https://a.com:443", "http://a.com:80", "wss://a.com:443", "ws://a.com:80", "https://x.b.com:443", "https://c.com:443"}, nil},
		{"NullCaseSensitive", []string{"null"},
			[]string{"null"},
			[]string{"NULL", "Null", "nulL", " null", "null "}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkMatch(t, newMatcher(t, tt.policy), tt.allowed, append(tt.refused, tt.others...))
			for _, o := range tt.refused {
				if _, ok := parseRequestOrigin(o); ok {
					t.Errorf("parseRequestOrigin(%q) took it as a serialized origin", o)
				}
			}
		})
	}
}

// TestAppendIPv6 pins the IPv6 serializer against the URL standard's
// examples and the forms netip.Addr.String writes differently.
func TestAppendIPv6(t *testing.T) {
	for in, want := range map[string]string{
		"::":                   "::",
		"::1":                  "::1",
		"1::":                  "1::",
		"2001:db8:0:0:0:0:2:1": "2001:db8::2:1",
		"2001:db8:0:1:1:1:1:1": "2001:db8:0:1:1:1:1:1",
		"2001:0:0:1:0:0:0:1":   "2001:0:0:1::1",
		"2001:db8:0:0:1:0:0:1": "2001:db8::1:0:0:1",
		"::ffff:192.0.2.128":   "::ffff:c000:280",
		"::192.0.2.128":        "::c000:280",
		"64:ff9b::192.0.2.33":  "64:ff9b::c000:221",
		"FEDC:BA98:7654:3210:FEDC:BA98:7654:3210": "fedc:ba98:7654:3210:fedc:ba98:7654:3210",
		"1:2:3:4:5:6:7:0":                         "1:2:3:4:5:6:7:0",
		"0:0:1:0:0:0:0:0":                         "0:0:1::",
	} {
		a := netip.MustParseAddr(in)
		if got := string(appendIPv6(nil, a)); got != want {
			t.Errorf("appendIPv6(%s) = %q, want %q", in, got, want)
		}
	}
}

// TestIPv6OriginParsesWithoutAllocating pins that checking an IPv6 Origin's
// form, which serializes the address again, costs a request nothing.
func TestIPv6OriginParsesWithoutAllocating(t *testing.T) {
	for _, o := range []string{"http://[2001:db8::1]:8080", "http://[::ffff:102:304]", "http://[::ffff:1.2.3.4]"} {
		if n := testing.AllocsPerRun(100, func() { parseRequestOrigin(o) }); n != 0 {
			t.Errorf("parseRequestOrigin(%q) allocates %v times", o, n)
		}
	}
}
