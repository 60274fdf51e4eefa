package cors

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The fuzz targets compare the fast code with deliberately naive reference
// implementations written another way (a regular expression and
// strings.Split where the fast code scans bytes and looks up maps). Run one
// with e.g. `go test -run '^$' -fuzz FuzzAllowList -fuzztime 20s`.

// Pieces random policies and origins are made of. The origin alphabet
// includes the characters that have broken matchers before.
var (
	seedSchemes = []string{"http", "https", "chrome-extension"}
	seedLabels  = []string{"a", "b", "example", "com", "xn--bcher-kva", "evil", "co", "localhost", "1", "127"}
	seedPorts   = []string{"", "80", "443", "8080", "*"}
	// IPv6 hosts in the spellings users write, most of them not the one
	// browsers send.
	seedIPv6 = []string{"[::1]", "[0:0::1]", "[::FFFF:1.2.3.4]", "[::ffff:102:304]", "[2001:DB8::1]",
		"[2001:0db8:0:0:0:0:0:1]", "[1:0:0:2:0:0:3:4]", "[1:0:3:4:5:6:7:8]", "[::1.2.3.4]", "[::]"}
)

// originsFromBytes builds a list of configured origins from bytes: four bytes an
// origin.
func originsFromBytes(cfg []byte) []string {
	var origins []string
	for i := 0; i+3 < len(cfg) && len(origins) < 16; i += 4 {
		var b strings.Builder
		b.WriteString(seedSchemes[int(cfg[i])%len(seedSchemes)])
		b.WriteString("://")
		if cfg[i+1]&1 == 1 {
			b.WriteString("*.")
		}
		n := int(cfg[i+1]>>1)%4 + 1
		if n == 4 {
			n = 0
			b.WriteString(seedIPv6[int(cfg[i+2])%len(seedIPv6)])
		}
		for j := range n {
			if j > 0 {
				b.WriteByte('.')
			}
			b.WriteString(seedLabels[(int(cfg[i+2])+j*7)%len(seedLabels)])
		}
		if p := seedPorts[int(cfg[i+3])%len(seedPorts)]; p != "" {
			b.WriteString(":" + p)
		}
		origins = append(origins, b.String())
	}
	return origins
}

// refOrigin is the naive reference for a well-formed Origin: one regular
// expression, then the rules it cannot express.
var refOriginRE = regexp.MustCompile(`^([a-z][a-z0-9+.-]*)://([a-z0-9_.-]+|\[[0-9a-f:.]+\])(?::(0|[1-9][0-9]{0,4}))?$`)

func refParseOrigin(o string) (scheme, host, port string, ok bool) {
	m := refOriginRE.FindStringSubmatch(o)
	if m == nil {
		return "", "", "", false
	}
	scheme, host, port = m[1], m[2], m[3]
	if len(scheme) > 64 || len(host) > 253 {
		return "", "", "", false
	}
	if port != "" {
		n, _ := strconv.Atoi(port)
		if n > 65535 {
			return "", "", "", false
		}
		if (scheme == "http" || scheme == "ws") && port == "80" || (scheme == "https" || scheme == "wss") && port == "443" {
			return "", "", "", false
		}
	}
	if strings.HasPrefix(host, "[") {
		a, err := netip.ParseAddr(host[1 : len(host)-1])
		return scheme, host, port, err == nil && a.Is6() && "["+refIPv6(a)+"]" == host
	}
	labels := strings.Split(host, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return "", "", "", false
		}
	}
	last := labels[len(labels)-1]
	if _, err := strconv.ParseUint(last, 10, 64); err == nil || strings.Trim(last, "0123456789") == "" ||
		strings.HasPrefix(last, "0x") && strings.Trim(last[2:], "0123456789abcdef") == "" {
		a, err := netip.ParseAddr(host)
		return scheme, host, port, err == nil && a.Is4()
	}
	return scheme, host, port, true
}

// refIPv6 is the naive reference for the URL standard's IPv6 serializer:
// all eight pieces in hex, then the first of the longest runs of two or
// more ":0" pieces replaced by "::".
func refIPv6(a netip.Addr) string {
	b := a.As16()
	full := ""
	for i := 0; i < 16; i += 2 {
		full += ":" + strconv.FormatUint(uint64(b[i])<<8|uint64(b[i+1]), 16)
	}
	full += ":"
	for n := 8; n >= 2; n-- {
		run := ":" + strings.Repeat("0:", n)
		if strings.Contains(full, run) {
			full = strings.Replace(full, run, "::", 1)
			break
		}
	}
	if !strings.HasPrefix(full, "::") {
		full = full[1:]
	}
	if !strings.HasSuffix(full, "::") {
		full = full[:len(full)-1]
	}
	return full
}

// refMatch is the naive reference matcher: every configured origin tried in
// turn with string comparisons.
func refMatch(normalized []string, origin string) bool {
	scheme, host, port, ok := refParseOrigin(origin)
	if !ok {
		return false
	}
	for _, p := range normalized {
		pScheme, rest, _ := strings.Cut(p, "://")
		pHost, pPort := rest, ""
		if i := strings.LastIndex(rest, ":"); i >= 0 && !strings.HasSuffix(rest, "]") {
			pHost, pPort = rest[:i], rest[i+1:]
		}
		if pScheme != scheme || (pPort != "*" && pPort != port) {
			continue
		}
		if suffix, sub := strings.CutPrefix(pHost, "*."); sub {
			if strings.HasSuffix(host, "."+suffix) {
				return true
			}
		} else if pHost == host {
			return true
		}
	}
	return false
}

// refNormalize is the reference normalization of the origins
// originsFromBytes builds (lower-case ASCII already, but for IPv6 hosts):
// an IPv6 host serialized as refIPv6 does, and the default port of the
// scheme dropped, as browsers never send it.
func refNormalize(o string) string {
	if i, j := strings.Index(o, "://["), strings.IndexByte(o, ']'); i >= 0 && j > i {
		if a, err := netip.ParseAddr(o[i+4 : j]); err == nil {
			o = o[:i+4] + refIPv6(a) + o[j:]
		}
	}
	for scheme, port := range map[string]string{"http": ":80", "https": ":443"} {
		if strings.HasPrefix(o, scheme+"://") && strings.HasSuffix(o, port) {
			return strings.TrimSuffix(o, port)
		}
	}
	return o
}

func FuzzAllowList(f *testing.F) {
	f.Add([]byte{1, 0, 2, 0}, "https://example.com")
	f.Add([]byte{1, 1, 2, 0}, "https://a.example.com")
	f.Add([]byte{1, 3, 2, 4}, "https://a.example.com.evil:8080")
	f.Add([]byte{0, 0, 7, 4, 1, 1, 3, 0}, "http://localhost:5173")
	f.Add([]byte{1, 1, 2, 0}, "https://evil.com/.example.com")
	f.Add([]byte{1, 1, 2, 0}, "https://example.com_.evil.net")
	f.Add([]byte{1, 1, 8, 0}, "https://1.2.3.127")
	f.Add([]byte{2, 0, 0, 0}, "chrome-extension://a")
	f.Add([]byte{1, 0, 2, 2}, "https://example:443")
	f.Add([]byte{0, 0, 9, 3}, "http://[::1]:8080")
	// IPv6 hosts configured in various spellings (n == 4 picks seedIPv6),
	// against their serialized form and others a browser never sends.
	f.Add([]byte{0, 6, 0, 3}, "http://[::1]:8080")
	f.Add([]byte{0, 6, 1, 3}, "http://[0:0::1]:8080")
	f.Add([]byte{0, 6, 2, 0}, "http://[::ffff:102:304]")
	f.Add([]byte{0, 6, 2, 0}, "http://[::ffff:1.2.3.4]")
	f.Add([]byte{0, 6, 3, 0}, "http://[::FFFF:102:304]")
	f.Add([]byte{1, 6, 4, 0}, "https://[2001:db8::1]")
	f.Add([]byte{1, 6, 5, 2}, "https://[2001:DB8::1]:443")
	f.Add([]byte{0, 6, 6, 3}, "http://[1::2:0:0:3:4]:8080")
	f.Add([]byte{0, 6, 6, 3}, "http://[1:0:0:2::3:4]:8080")
	f.Add([]byte{0, 6, 7, 4}, "http://[1:0:3:4:5:6:7:8]:5173")
	f.Add([]byte{0, 6, 7, 4}, "http://[1::3:4:5:6:7:8]:5173")
	f.Add([]byte{0, 6, 8, 0}, "http://[::102:304]")
	f.Add([]byte{0, 6, 9, 0}, "http://[::]")
	f.Add([]byte{0, 6, 9, 0}, "http://[0::]")
	f.Fuzz(func(t *testing.T, cfg []byte, origin string) {
		configured := originsFromBytes(cfg)
		if len(configured) == 0 {
			return
		}
		p, problems, _ := compile(&Handler{Origins: configured})
		if len(problems) > 0 {
			return // e.g. a subdomain pattern over an IP address
		}
		normalized := make([]string, len(configured))
		for i, o := range configured {
			normalized[i] = refNormalize(o)
		}
		if got, want := p.origins.match(origin), refMatch(normalized, origin); got != want {
			t.Fatalf("policy %q, origin %q: match = %v, reference = %v", normalized, origin, got, want)
		}
		// Origins built from the policy itself must agree too: they reach
		// the matching code the random string rarely reaches.
		for _, n := range normalized {
			o := strings.Replace(strings.Replace(n, "*.", origin[:min(len(origin), 3)]+".", 1), ":*", ":8443", 1)
			if got, want := p.origins.match(o), refMatch(normalized, o); got != want {
				t.Fatalf("policy %q, origin %q: match = %v, reference = %v", normalized, o, got, want)
			}
		}
	})
}

// refCheckHeaders is the naive reference for reading
// Access-Control-Request-Headers: join, split, trim, compare. Its bounds
// are the documented ones, written out: 16 lines, and 4 times the allowed
// names' lengths (each with ", ") plus 256 bytes, or 8 KiB with "*".
func refCheckHeaders(allowed []string, lines []string) (requested, ok bool) {
	wildcard, authorization, limit := false, false, 256
	for _, a := range allowed {
		switch {
		case a == "*":
			wildcard = true
		case strings.EqualFold(a, "authorization"):
			authorization = true
			fallthrough
		default:
			limit += 4 * (len(a) + 2)
		}
	}
	if wildcard {
		limit = 8192
	}
	if len(lines) > 16 || len(strings.Join(lines, "")) > limit {
		return true, false
	}
	ok = true
	for _, name := range strings.Split(strings.Join(lines, ","), ",") {
		name = strings.Trim(name, " \t")
		if name == "" {
			continue
		}
		requested = true
		lower := strings.ToLower(name)
		valid := len(name) <= 128 && regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$").MatchString(name)
		switch {
		case !valid:
			ok = false
		case lower == "authorization":
			ok = ok && authorization
		case wildcard:
		default:
			listed := false
			for _, a := range allowed {
				listed = listed || strings.ToLower(a) == lower
			}
			ok = ok && listed
		}
		if !ok {
			return requested, false
		}
	}
	return requested, ok
}

func FuzzRequestHeaders(f *testing.F) {
	f.Add(uint8(0), "content-type,x-api-key")
	f.Add(uint8(0), " X-API-KEY ,, content-type\nx-api-key")
	f.Add(uint8(1), "authorization,x-anything")
	f.Add(uint8(2), "authorization,x-anything")
	f.Add(uint8(0), "x-api-key,x-api-key,x-api-key,x-api-key,x-api-key")
	f.Add(uint8(0), "x-api-\u212aey")
	f.Add(uint8(1), "x\x00y")
	f.Add(uint8(0), ",,,,\n\n\n")
	policies := [][]string{
		{"Content-Type", "X-Api-Key", "Authorization"},
		{"*"},
		{"*", "Authorization"},
		{"X-A"},
	}
	f.Fuzz(func(t *testing.T, which uint8, value string) {
		allowed := policies[int(which)%len(policies)]
		lines := strings.Split(value, "\n")
		set := newHeaderSet(allowed)
		requested, _, ok := set.check(lines)
		wantRequested, wantOK := refCheckHeaders(allowed, lines)
		if ok != wantOK || (ok && requested != wantRequested) {
			t.Fatalf("policy %q, lines %q: check = requested %v ok %v, reference = %v %v",
				allowed, lines, requested, ok, wantRequested, wantOK)
		}
	})
}
