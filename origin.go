package cors

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// An origin is matched in two steps. The request's Origin header is first
// parsed strictly, as a browser serializes it (lower case, no default port, no
// path, no user info); anything else matches nothing, so a hostile value
// cannot smuggle an allowed origin past the matcher in a path, a user-info
// part or an odd spelling. The parsed parts are then looked up in maps built
// at provision time, so the cost does not grow with the number of configured
// origins: one lookup for exact origins, plus one per label of the request's
// host for subdomain patterns.

// maxOriginLen bounds the Origin values worth parsing: a scheme, "://", a host
// of at most 253 bytes and a port. Longer values are refused unread.
const maxOriginLen = maxSchemeLen + len("://") + maxHostLen + len(":65535")

const (
	maxSchemeLen = 64
	maxHostLen   = 253
	maxLabelLen  = 63
)

// requestOrigin holds the parts of a well-formed Origin header value. The
// strings share the header's memory.
type requestOrigin struct {
	scheme, host, port string
}

// parseRequestOrigin reports whether s is an origin exactly as a browser
// serializes one, and returns its parts.
func parseRequestOrigin(s string) (requestOrigin, bool) {
	var o requestOrigin
	if len(s) > maxOriginLen {
		return o, false
	}
	i := strings.Index(s, "://")
	if i <= 0 || i > maxSchemeLen || !validScheme(s[:i], false) {
		return o, false
	}
	o.scheme, s = s[:i], s[i+3:]
	var ok bool
	if o.host, o.port, ok = splitHostPort(s); !ok {
		return o, false
	}
	if o.port != "" && (!validPort(o.port) || o.port == defaultPort(o.scheme)) {
		return o, false
	}
	if !validHost(o.host) {
		return o, false
	}
	return o, true
}

// validScheme reports whether s is a URL scheme: a letter, then letters,
// digits, "+", "-" or ".". Browsers serialize schemes in lower case, so
// upper case is accepted only in configuration, where it is folded.
func validScheme(s string, upperOK bool) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z':
		case 'A' <= c && c <= 'Z' && upperOK:
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// splitHostPort splits "host", "host:port", "[v6]" or "[v6]:port". It
// reports false for anything else, including a path or a second colon.
func splitHostPort(s string) (host, port string, ok bool) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", false
		}
		host, s = s[:end+1], s[end+1:]
		if s == "" {
			return host, "", true
		}
		if s[0] != ':' {
			return "", "", false
		}
		return host, s[1:], s[1:] != ""
	}
	i := strings.IndexByte(s, ':')
	if i < 0 {
		return s, "", true
	}
	return s[:i], s[i+1:], s[i+1:] != ""
}

// validPort reports whether s is a port as browsers serialize it: decimal,
// no leading zero, at most 65535.
func validPort(s string) bool {
	if len(s) == 0 || len(s) > 5 || (s[0] == '0' && len(s) > 1) {
		return false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n <= 65535
}

func defaultPort(scheme string) string {
	switch scheme {
	case "http", "ws":
		return "80"
	case "https", "wss":
		return "443"
	}
	return ""
}

// validHost reports whether h is a host as a browser serializes it: a
// bracketed IPv6 address in its canonical form, a dotted-quad IPv4 address,
// or a domain of lower-case letters, digits, "-" and "_" whose labels are
// 1 to 63 bytes long, with no trailing dot.
func validHost(h string) bool {
	if len(h) == 0 || len(h) > maxHostLen {
		return false
	}
	if h[0] == '[' {
		return validIPv6Literal(h)
	}
	label := 0
	lastStart := 0
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
			label++
			if label > maxLabelLen {
				return false
			}
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
			lastStart = i + 1
		default:
			return false
		}
	}
	if label == 0 { // empty last label: a trailing dot
		return false
	}
	// A host whose last label is a number is an IPv4 address to a browser,
	// which serializes it as a canonical dotted quad.
	if last := h[lastStart:]; isNumericLabel(last) {
		a, err := netip.ParseAddr(h)
		return err == nil && a.Is4()
	}
	return true
}

// isNumericLabel reports whether the URL standard would treat a host ending
// in label as an IPv4 address: decimal digits, or "0x" followed by hex.
func isNumericLabel(label string) bool {
	if strings.HasPrefix(label, "0x") {
		for i := 2; i < len(label); i++ {
			c := label[i]
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(label); i++ {
		if label[i] < '0' || label[i] > '9' {
			return false
		}
	}
	return true
}

// validIPv6Literal reports whether h is "[addr]" with addr serialized as
// browsers serialize it (see appendIPv6).
func validIPv6Literal(h string) bool {
	if len(h) < 4 || h[len(h)-1] != ']' {
		return false
	}
	inner := h[1 : len(h)-1]
	a, err := netip.ParseAddr(inner)
	if err != nil || !a.Is6() || a.Zone() != "" {
		return false
	}
	var buf [64]byte
	return string(appendIPv6(buf[:0], a)) == inner
}

// appendIPv6 appends a, without brackets, as the URL standard's IPv6
// serializer writes it and so as Fetch serializes it in an origin: eight
// pieces in lower-case hex without leading zeros, the first longest run of
// two or more zero pieces written "::". Unlike netip.Addr.String it never
// writes an IPv4 part in dotted form: a browser at http://[::ffff:1.2.3.4]
// sends the origin http://[::ffff:102:304].
func appendIPv6(dst []byte, a netip.Addr) []byte {
	b := a.As16()
	var pieces [8]uint16
	for i := range pieces {
		pieces[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	compress, longest := -1, 1
	for i := 0; i < len(pieces); {
		if pieces[i] != 0 {
			i++
			continue
		}
		j := i
		for j < len(pieces) && pieces[j] == 0 {
			j++
		}
		if j-i > longest {
			compress, longest = i, j-i
		}
		i = j
	}
	for i := 0; i < len(pieces); i++ {
		if i == compress {
			dst = append(dst, "::"...)
			i += longest - 1
			continue
		}
		if i > 0 && i != compress+longest {
			dst = append(dst, ':')
		}
		dst = strconv.AppendUint(dst, uint64(pieces[i]), 16)
	}
	return dst
}

// allowedOrigin is one configured origin after normalization.
type allowedOrigin struct {
	scheme string
	// host is the exact host, or for a subdomain pattern the domain below
	// which any subdomain matches.
	host       string
	subdomains bool
	// port is "" for the scheme's default port (or none), or a decimal port.
	port    string
	anyPort bool
}

func (p allowedOrigin) String() string {
	var b strings.Builder
	b.WriteString(p.scheme)
	b.WriteString("://")
	if p.subdomains {
		b.WriteString("*.")
	}
	b.WriteString(p.host)
	switch {
	case p.anyPort:
		b.WriteString(":*")
	case p.port != "":
		b.WriteString(":")
		b.WriteString(p.port)
	}
	return b.String()
}

// parseAllowedOrigin parses and normalizes one configured origin (other than
// "*" and "null"). Its errors say what to write instead.
func parseAllowedOrigin(s string) (allowedOrigin, error) {
	var p allowedOrigin
	i := strings.Index(s, "://")
	if i < 0 {
		if strings.ContainsAny(s, ":/") || s == "" {
			return p, fmt.Errorf("%q is not an origin: write scheme://host[:port], e.g. https://app.example.com", s)
		}
		return p, fmt.Errorf("%q has no scheme: write %q (or http:// for a plain-HTTP site)", s, "https://"+strings.ToLower(s))
	}
	scheme := s[:i]
	if !validScheme(scheme, true) || len(scheme) > maxSchemeLen {
		return p, fmt.Errorf("%q has an invalid scheme %q: write scheme://host[:port], e.g. https://app.example.com", s, scheme)
	}
	p.scheme = strings.ToLower(scheme)
	if p.scheme == "file" {
		return p, fmt.Errorf("%q: browsers send the origin of file:// pages as \"null\", which any sandboxed page can send too; serve the page over http://localhost instead", s)
	}
	rest := s[i+3:]

	// Whatever follows the authority is not part of an origin. Work out the
	// corrected origin first, so every error below can show it.
	authority := rest
	var extra string
	if j := strings.IndexAny(rest, "/?#"); j >= 0 {
		authority, extra = rest[:j], rest[j:]
	}
	var userinfo bool
	if j := strings.LastIndexByte(authority, '@'); j >= 0 {
		authority, userinfo = authority[j+1:], true
	}
	host, port, ok := splitHostPort(authority)
	if !ok && strings.HasPrefix(authority, "[") && !strings.Contains(authority, "]") {
		return p, fmt.Errorf("%q: %q is not an IPv6 address; write it in brackets, e.g. http://[::1]:8080", s, authority)
	}
	if !ok {
		return p, fmt.Errorf("%q has an invalid port: write scheme://host[:port] with a port from 1 to 65535, or :* for any port", s)
	}
	encoded, err := p.setHost(host)
	if err != nil {
		return p, fmt.Errorf("%q: %v", s, err)
	}
	if err := p.setPort(port); err != nil {
		return p, fmt.Errorf("%q: %v", s, err)
	}
	switch {
	case encoded:
		return p, fmt.Errorf("%q: an origin has no percent-encoding (browsers decode the host); write %q", s, p.String())
	case userinfo:
		return p, fmt.Errorf("%q: an origin has no user name or password; write %q", s, p.String())
	case extra == "/":
		return p, fmt.Errorf("%q: an origin has no trailing slash; write %q", s, p.String())
	case extra != "":
		return p, fmt.Errorf("%q: an origin has no path, query or fragment; write %q", s, p.String())
	}
	return p, nil
}

// setHost normalizes a configured host to its serialization in an origin.
// A percent-encoded host is decoded as a browser's URL parser decodes it,
// and reported (encoded) rather than accepted: the written form hides from
// whoever reads the config what it allows (https://%2A.example.com is
// https://*.example.com to a browser), and a %-escape in a config is most
// often the trace of a value URL-encoded on its way there.
func (p *allowedOrigin) setHost(host string) (encoded bool, err error) {
	if strings.HasPrefix(host, "*.") {
		p.subdomains = true
		host = host[2:]
	}
	if strings.Contains(host, "*") {
		return false, fmt.Errorf("a wildcard may only stand as the first label of the host, as in https://*.example.com, or as the port, as in http://localhost:*")
	}
	if strings.HasSuffix(host, ".") && host != "." {
		return false, fmt.Errorf("the host has a trailing dot, which browsers keep in the origin; write it without: %q", strings.TrimSuffix(host, "."))
	}
	if strings.HasPrefix(host, "[") {
		inner := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		// A zone needs an address before it: "[%25eth0]" is no address.
		if zone := strings.IndexByte(inner, '%'); zone > 0 && strings.HasSuffix(host, "]") {
			return false, fmt.Errorf("%q has a zone (%s), which no URL may carry, so no page has this origin; write %q", host, inner[zone:], "["+inner[:zone]+"]")
		}
		a, err := netip.ParseAddr(inner)
		if err != nil || !a.Is6() || !strings.HasSuffix(host, "]") {
			return false, fmt.Errorf("%q is not an IPv6 address; write it in brackets, e.g. http://[::1]:8080", host)
		}
		if p.subdomains {
			return false, fmt.Errorf("an IP address has no subdomains; remove the \"*.\"")
		}
		p.host = "[" + string(appendIPv6(nil, a)) + "]"
		return false, nil
	}
	if strings.Contains(host, "%") {
		decoded, err := url.PathUnescape(host)
		if err != nil || strings.Contains(decoded, "%") || !utf8.ValidString(decoded) {
			return false, fmt.Errorf("%q is not a valid host name: a %% must start an escape such as %%2E, and browsers decode it once", host)
		}
		if strings.ContainsAny(decoded, "*:[]/?#@") {
			return false, fmt.Errorf("%q is not a valid host name: it decodes to %q", host, decoded)
		}
		if _, err := p.setHost(decoded); err != nil {
			return false, fmt.Errorf("%q decodes to %q, and %v", host, decoded, err)
		}
		return true, nil
	}
	ascii := strings.ToLower(host)
	if !isASCII(host) {
		if !utf8.ValidString(host) {
			// idna would read each invalid byte as U+FFFD and accept it.
			return false, fmt.Errorf("%q is not a valid international host name: it is not UTF-8", host)
		}
		var err error
		if ascii, err = idna.Lookup.ToASCII(host); err != nil {
			return false, fmt.Errorf("%q is not a valid international host name: %v", host, err)
		}
	}
	if !validHost(ascii) {
		return false, fmt.Errorf("%q is not a valid host name: use letters, digits, \"-\" and dots, with no empty label", host)
	}
	if p.subdomains {
		if _, err := netip.ParseAddr(ascii); err == nil {
			return false, fmt.Errorf("an IP address has no subdomains; remove the \"*.\"")
		}
	}
	p.host = ascii
	return false, nil
}

func (p *allowedOrigin) setPort(port string) error {
	switch {
	case port == "":
		return nil
	case port == "*":
		p.anyPort = true
		return nil
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 || strings.TrimLeft(port, "0123456789") != "" {
		return fmt.Errorf("%q is not a port: write a port from 1 to 65535, or * for any port", port)
	}
	p.port = strconv.Itoa(n)
	if p.port == defaultPort(p.scheme) {
		p.port = "" // browsers never send the default port
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// onPublicSuffix reports whether a subdomain pattern would match the sites of
// unrelated owners, as https://*.com or https://*.github.io would.
func (p allowedOrigin) onPublicSuffix() bool {
	if !p.subdomains || p.host == "localhost" {
		return false
	}
	suffix, _ := publicsuffix.PublicSuffix(p.host)
	return suffix == p.host
}

// covers reports whether the pattern p (a subdomain or any-port pattern)
// allows every request the exact origin o allows.
func (p allowedOrigin) covers(o allowedOrigin) bool {
	if p.scheme != o.scheme || !p.anyPort && p.port != o.port {
		return false
	}
	if p.subdomains {
		return strings.HasSuffix(o.host, "."+p.host)
	}
	return p.host == o.host
}

// isLoopback reports whether the pattern names only this machine, where a
// network attacker cannot impersonate a plain-HTTP origin.
func (p allowedOrigin) isLoopback() bool {
	if p.host == "localhost" || strings.HasSuffix(p.host, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(strings.Trim(p.host, "[]"))
	return err == nil && a.IsLoopback()
}

// allowList decides whether a request's Origin is allowed.
type allowList struct {
	any  bool // the policy allows every origin
	null bool // the literal origin "null" is allowed

	// exact holds origins with an exact host and port, in their serialized
	// form, so that a well-formed Origin needs a single lookup.
	exact map[string]struct{}
	// hosts holds the rest, by host: exact hosts with any port, and the
	// domains of subdomain patterns. Only suffixes of the request's host
	// whose length some pattern has are looked up.
	hosts        map[string][]hostRule
	suffixLens   uint64 // bit n: a subdomain pattern's domain is n bytes long (n < 64)
	longSuffixes bool   // a subdomain pattern's domain is 64 bytes or longer

	regexps []*regexp.Regexp
}

// hostRule is one configured origin of the hosts map.
type hostRule struct {
	scheme     string
	subdomains bool
	port       string
	anyPort    bool
}

func (m *allowList) add(p allowedOrigin) {
	if !p.subdomains && !p.anyPort {
		if m.exact == nil {
			m.exact = make(map[string]struct{})
		}
		m.exact[p.String()] = struct{}{}
		return
	}
	if m.hosts == nil {
		m.hosts = make(map[string][]hostRule)
	}
	m.hosts[p.host] = append(m.hosts[p.host], hostRule{p.scheme, p.subdomains, p.port, p.anyPort})
	if p.subdomains {
		if len(p.host) < 64 {
			m.suffixLens |= 1 << len(p.host)
		} else {
			m.longSuffixes = true
		}
	}
}

// match reports whether origin, the whole value of the request's single
// Origin header, is allowed.
func (m *allowList) match(origin string) bool {
	allowed, _ := m.matchOrigin(origin)
	return allowed
}

// matchOrigin is match, which also reports, for an origin it refuses,
// whether origin is well-formed (as parseRequestOrigin decides), so that a
// caller that goes on to other checks need not parse it again.
func (m *allowList) matchOrigin(origin string) (allowed, wellFormed bool) {
	if m.matchUnparsed(origin) {
		return true, !m.any
	}
	return m.matchParsed(origin)
}

// matchUnparsed reports whether the policy allows origin without parsing
// it: a policy of any origin, or a configured exact origin, which is a
// serialized origin, so that an Origin equal to one byte for byte is
// well-formed.
func (m *allowList) matchUnparsed(origin string) bool {
	if m.any {
		return true
	}
	_, ok := m.exact[origin]
	return ok
}

// matchParsed is matchOrigin for an origin matchUnparsed refused.
func (m *allowList) matchParsed(origin string) (allowed, wellFormed bool) {
	if origin == "null" {
		return m.null, false
	}
	o, ok := parseRequestOrigin(origin)
	if !ok {
		return false, false
	}
	if m.hosts != nil {
		if m.hostMatch(o.host, o, false) {
			return true, true
		}
		// Try every parent domain of the host, so that a.b.example.com is
		// looked up as b.example.com and example.com: never the host itself,
		// hence never the apex of a pattern.
		for i := 0; i < len(o.host); i++ {
			if o.host[i] != '.' {
				continue
			}
			suffix := o.host[i+1:]
			if n := len(suffix); n < 64 && m.suffixLens&(1<<n) == 0 || n >= 64 && !m.longSuffixes {
				continue
			}
			if m.hostMatch(suffix, o, true) {
				return true, true
			}
		}
	}
	for _, re := range m.regexps {
		if re.MatchString(origin) {
			return true, true
		}
	}
	return false, true
}

func (m *allowList) hostMatch(host string, o requestOrigin, subdomains bool) bool {
	for _, r := range m.hosts[host] {
		if r.subdomains == subdomains && r.scheme == o.scheme && (r.anyPort || r.port == o.port) {
			return true
		}
	}
	return false
}
