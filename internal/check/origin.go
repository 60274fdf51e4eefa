package check

import (
	"net"
	"net/netip"
	"net/url"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// urlOrigin is the serialized origin of an http(s) URL.
func urlOrigin(u *url.URL) string {
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if p := u.Port(); p != "" && !(u.Scheme == "http" && p == "80") && !(u.Scheme == "https" && p == "443") {
		host += ":" + p
	}
	return u.Scheme + "://" + host
}

// urlString serializes u as Chromium prints URLs (a lower-case host and
// at least a "/" path), so console lines match the browser's.
func urlString(u *url.URL) string {
	c := *u
	c.Host = strings.ToLower(c.Host)
	c.Fragment, c.RawFragment = "", ""
	if c.Path == "" && c.RawPath == "" {
		c.Path = "/"
	}
	return c.String()
}

// site is the schemeful site of an origin: the scheme plus the
// registrable domain, or the host itself when it has none (IPs, localhost).
func site(origin string) string {
	u, err := url.Parse(origin)
	if err != nil || origin == "null" {
		return ""
	}
	host := u.Hostname()
	if net.ParseIP(host) == nil {
		if d, err := publicsuffix.EffectiveTLDPlusOne(host); err == nil {
			host = d
		}
	}
	return u.Scheme + "://" + host
}

// fetchSite is what Sec-Fetch-Site says, ordered so that a redirect
// chain takes the maximum over its hops.
type fetchSite int

const (
	sameOrigin fetchSite = iota
	sameSite
	crossSite
)

func (r fetchSite) String() string {
	return [...]string{"same-origin", "same-site", "cross-site"}[r]
}

// relation relates a request from origin to u, for Sec-Fetch-Site.
func relation(origin string, u *url.URL) fetchSite {
	switch target := urlOrigin(u); {
	case origin == target:
		return sameOrigin
	case origin != "null" && site(origin) == site(target):
		return sameSite
	}
	return crossSite
}

// isPotentiallyTrustworthy reports whether an http URL's host may be
// fetched from an https page without being blocked as mixed content.
func isPotentiallyTrustworthy(u *url.URL) bool {
	host := strings.ToLower(u.Hostname())
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// addressSpace is where Local Network Access places an address, from the
// most private: Chromium asks the user's permission before a page sends a
// request to a more private space than its own.
type addressSpace int

const (
	loopbackSpace addressSpace = iota
	localSpace                 // private and link-local addresses
	publicSpace
)

func (s addressSpace) String() string {
	return [...]string{"loopback", "private", "public"}[s]
}

// hostSpace places a host known without DNS (localhost and its subdomains,
// an IP literal); known is false for any other name, which only the
// address it resolves to places.
func hostSpace(host string) (space addressSpace, known bool) {
	host = strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return loopbackSpace, true
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return publicSpace, false
	}
	a = a.Unmap()
	switch {
	case a.IsLoopback():
		return loopbackSpace, true
	case a.IsPrivate() || a.IsLinkLocalUnicast():
		return localSpace, true
	}
	return publicSpace, true
}

// localNetworkAccess reports whether Chromium asks the user's permission
// before a page at origin fetches u, and the spaces of both: u's host is a
// loopback or private address (an IP literal or localhost) and the page's
// origin is in a less private space. A page on a domain name counts as
// public, as most are.
func localNetworkAccess(origin string, u *url.URL) (target, page addressSpace, asks bool) {
	target, known := hostSpace(u.Hostname())
	if !known || target == publicSpace {
		return target, publicSpace, false
	}
	o, err := url.Parse(origin)
	if err != nil || origin == "null" {
		return target, publicSpace, false
	}
	page, _ = hostSpace(o.Hostname())
	return target, page, page > target
}
