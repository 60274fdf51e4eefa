package cors

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func init() {
	caddy.RegisterModule(HTTPSource{})
}

// HTTPSource asks an HTTP endpoint whether an origin is allowed:
// GET <url>?origin=<Origin>&host=<request host>. A 2xx answer allows, 403
// or 404 refuses, anything else is an error (which refuses too, without
// caching a refusal). It is the shape of Caddy's On-Demand TLS `ask`
// endpoint, so one service can answer both: which domains are my tenants'.
type HTTPSource struct {
	// The endpoint, an http:// or https:// URL. The origin and host
	// parameters are added to its own query. Caddy's global placeholders
	// ({env.ASK_URL}) are resolved when the config loads; request
	// placeholders are not available.
	URL string `json:"url"`

	// How long a lookup may take, including a wait for a free lookup slot;
	// past it the origin is refused (or its stale answer used). Default: 2s.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	// How many lookups may be in flight at once; more wait for a free slot
	// within the timeout. Default: 64.
	MaxLookups int `json:"max_lookups,omitempty"`

	endpoint *url.URL
	client   *http.Client
	slots    chan struct{}
}

// Defaults of HTTPSource.
const (
	defaultLookupTimeout = 2 * time.Second
	defaultMaxLookups    = 64
	// maxAnswerBody bounds how much of an answer is read: the status and
	// Cache-Control say everything, and reading a little lets the
	// connection be reused.
	maxAnswerBody = 4 << 10
)

// CaddyModule returns the Caddy module information.
func (HTTPSource) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.cors.origins.http",
		New: func() caddy.Module { return new(HTTPSource) },
	}
}

// UnmarshalCaddyfile sets up the source from Caddyfile tokens. Syntax:
//
//	origin_source http <url> {
//		timeout     <duration>
//		max_lookups <n>
//	}
func (s *HTTPSource) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the source name
	if !d.NextArg() {
		return d.Err("cors: origin_source http needs the URL of the endpoint to ask, e.g. origin_source http http://localhost:5555/cors-ask")
	}
	s.URL = d.Val()
	if d.NextArg() {
		return d.Errf("cors: origin_source http takes one URL, not also %q: put its settings in a block, e.g. origin_source http %s { timeout 2s }", d.Val(), s.URL)
	}
	if _, err := checkEndpoint(s.URL, false); err != nil {
		return d.Errf("cors: origin_source http %q: %v", s.URL, err)
	}
	for d.NextBlock(0) {
		sub := d.Val()
		switch sub {
		case "timeout":
			if !d.NextArg() {
				return d.Err("cors: timeout needs a duration, e.g. timeout 2s")
			}
			v, err := caddy.ParseDuration(d.Val())
			switch {
			case err != nil:
				return d.Errf("cors: timeout %q: %v: write a duration such as 2s", d.Val(), err)
			case v <= 0:
				return d.Errf("cors: timeout %q must be positive: write a duration such as 2s", d.Val())
			}
			s.Timeout = caddy.Duration(v)
		case "max_lookups":
			if !d.NextArg() {
				return d.Err("cors: max_lookups needs a number, e.g. max_lookups 64")
			}
			n, err := strconv.Atoi(d.Val())
			if err != nil || n <= 0 {
				return d.Errf("cors: max_lookups %q is not a positive number: write e.g. max_lookups 64", d.Val())
			}
			s.MaxLookups = n
		default:
			return d.Errf("cors: unknown origin_source http setting %q: write timeout or max_lookups", sub)
		}
		if d.NextArg() {
			return d.Errf("cors: %s takes one value, not also %q: remove it", sub, d.Val())
		}
	}
	return nil
}

// Provision resolves the URL's global placeholders and checks it.
func (s *HTTPSource) Provision(ctx caddy.Context) error {
	u, err := caddy.NewReplacer().ReplaceOrErr(s.URL, true, true)
	if err != nil {
		return fmt.Errorf("url %q: %v: only global placeholders such as {env.ASK_URL} are available (the origin and host parameters are added by the source)", s.URL, err)
	}
	if s.endpoint, err = checkEndpoint(u, true); err != nil {
		return fmt.Errorf("url %q: %v", s.URL, err)
	}
	switch {
	case s.Timeout < 0:
		return fmt.Errorf("timeout: %v is negative: write a duration such as \"2s\"", time.Duration(s.Timeout))
	case s.Timeout == 0:
		s.Timeout = caddy.Duration(defaultLookupTimeout)
	}
	switch {
	case s.MaxLookups < 0:
		return fmt.Errorf("max_lookups: %d is negative: write a number such as 64", s.MaxLookups)
	case s.MaxLookups == 0:
		s.MaxLookups = defaultMaxLookups
	}
	s.slots = make(chan struct{}, s.MaxLookups)
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = s.MaxLookups
	t.IdleConnTimeout = 30 * time.Second
	s.client = &http.Client{
		Transport: t,
		// A redirect is an error, never followed: the endpoint is the
		// operator's own, and a redirect there is a misconfiguration.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return nil
}

// checkEndpoint parses an endpoint URL. Before placeholders are resolved
// (resolved false) a placeholder may stand for any part of it.
func checkEndpoint(raw string, resolved bool) (*url.URL, error) {
	if !resolved && strings.Contains(raw, "{") {
		return nil, nil
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, fmt.Errorf("not a URL (%v): write e.g. http://localhost:5555/cors-ask", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("not an http:// or https:// URL: write e.g. http://localhost:5555/cors-ask")
	case u.Host == "":
		return nil, fmt.Errorf("has no host: write e.g. http://localhost:5555/cors-ask")
	case u.Fragment != "":
		return nil, fmt.Errorf("has a fragment, which is never sent: remove #%s", u.Fragment)
	}
	return u, nil
}

// AllowOrigin asks the endpoint.
func (s *HTTPSource) AllowOrigin(ctx context.Context, origin, host string) (OriginAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(s.Timeout))
	defer cancel()
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-ctx.Done():
		return OriginAnswer{}, fmt.Errorf("all %d lookups busy for %v", s.MaxLookups, time.Duration(s.Timeout))
	}

	u := *s.endpoint
	q := u.Query()
	q.Set("origin", origin)
	q.Set("host", host)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return OriginAnswer{}, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return OriginAnswer{}, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswerBody))
	resp.Body.Close()

	var a OriginAnswer
	switch code := resp.StatusCode; {
	case code >= 200 && code <= 299:
		a.Allowed = true
	case code == http.StatusForbidden || code == http.StatusNotFound:
	case code >= 300 && code <= 399:
		return OriginAnswer{}, fmt.Errorf("redirect (status %d) to %q, which is never followed: make the endpoint answer 2xx to allow, 403 or 404 to refuse", code, resp.Header.Get("Location"))
	default:
		return OriginAnswer{}, fmt.Errorf("status %d: make the endpoint answer 2xx to allow, 403 or 404 to refuse", code)
	}
	a.TTL, a.NoStore = cacheControl(resp.Header.Values("Cache-Control"))
	return a, nil
}

// cacheControl reads an answer's own lifetime: max-age, or no-store (and
// no-cache, which asks every time too).
func cacheControl(values []string) (ttl time.Duration, noStore bool) {
	for _, v := range values {
		for d := range strings.SplitSeq(v, ",") {
			name, arg, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(name) {
			case "no-store", "no-cache":
				noStore = true
			case "max-age":
				n, err := strconv.ParseInt(strings.Trim(arg, `"`), 10, 64)
				if err != nil || n < 0 {
					continue
				}
				if n == 0 {
					noStore = true
				}
				ttl = min(time.Duration(min(n, int64(maxOriginTTL/time.Second)))*time.Second, maxOriginTTL)
			}
		}
	}
	return ttl, noStore
}

// Cleanup closes the idle connections to the endpoint, and with them their
// goroutines.
func (s *HTTPSource) Cleanup() error {
	if s.client != nil {
		s.client.CloseIdleConnections()
	}
	return nil
}

// Interface guards
var (
	_ OriginSource          = (*HTTPSource)(nil)
	_ caddy.Provisioner     = (*HTTPSource)(nil)
	_ caddy.CleanerUpper    = (*HTTPSource)(nil)
	_ caddyfile.Unmarshaler = (*HTTPSource)(nil)
)
