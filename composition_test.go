package cors

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"golang.org/x/crypto/bcrypt"
)

// TestIntegrationComposition puts cors in front of every directive that can
// set headers or write a response, in a real Caddy, and checks the ownership
// invariant on every response over HTTP/1.1, h2c, HTTP/2 and HTTP/3: the
// owned headers carry exactly the policy's decision, Vary is merged, and
// everything else (status, body, other headers, informational responses) is
// what the same config answers without cors.
//
// Each policy gets one config with every directive on a path of its own; the
// baseline is the same config without the cors lines. Subtests are named
// protocol/directive/policy/request. Like every test starting Caddy through
// caddytest, its name starts with TestIntegration, which CI's fuzzing step
// skips (caddytest rewrites os.Args).
func TestIntegrationComposition(t *testing.T) {
	env := newBackends(t)
	clients := func() map[string]*http.Client {
		m := make(map[string]*http.Client, len(transports))
		for _, p := range transports {
			m[p.name] = p.client()
		}
		return m
	}
	closeAll := func(m map[string]*http.Client) {
		for _, c := range m {
			c.CloseIdleConnections()
			if h3, ok := c.Transport.(*http3.Transport); ok {
				h3.Close()
			}
		}
	}

	// Phase 1: what every directive answers without cors.
	loadComposition(t, "baseline", env.config(nil))
	c := clients()
	etag := roundTrip(c["h1"], "h1", "localhost", http.MethodGet, "/file_server-200/hello.txt", "", nil, "").header.Get("Etag")
	if etag == "" {
		t.Fatal("file_server sent no ETag: the 304 row needs one")
	}
	rows := env.rows(etag)
	type baseKey struct{ proto, row, origin string }
	base := make(map[baseKey]captured)
	origins := []string{refusedOrigin, ""}
	for _, p := range policyCases {
		origins = append(origins, p.allowed)
	}
	for _, p := range transports {
		for _, r := range rows {
			if !r.servedOver(p.name) || r.preflight {
				continue
			}
			for _, o := range origins {
				k := baseKey{p.name, r.name, o}
				if _, ok := base[k]; !ok {
					base[k] = r.do(c[p.name], p.name, o)
				}
			}
		}
	}
	closeAll(c)

	// Phase 2: the same requests with cors in front, policy by policy.
	failures := failureSummary{}
	for _, pol := range policyCases {
		loadComposition(t, pol.name, env.config(&pol))
		c := clients()
		for _, p := range transports {
			for _, r := range rows {
				if !r.servedOver(p.name) || (r.policy != "" && r.policy != pol.name) {
					continue
				}
				for _, req := range requestCases(pol, r.preflight) {
					got := r.doPreflight(c[p.name], p.name, req)
					name := fmt.Sprintf("%s/%s/%s/%s", p.name, r.name, pol.name, req.name)
					var problems []string
					switch want := base[baseKey{p.name, r.name, req.origin}]; {
					case r.preflight:
						problems = checkModulePreflight(pol, req, got)
					case r.checkBaseline(p.name, want) != "":
						problems = []string{r.checkBaseline(p.name, want)}
					default:
						problems = checkOwnership(pol, r, req.origin, got, want)
					}
					t.Run(name, func(t *testing.T) {
						for _, problem := range problems {
							t.Error(problem)
						}
					})
					failures.add(r.name, p.name, pol.name, problems)
				}
			}
		}
		closeAll(c)
	}
	if len(failures) > 0 {
		t.Logf("rows failing, by directive:\n%s", failures)
	}
}

// failureSummary tells, per directive, which protocols and policies fail
// and on which headers, so that a run with hundreds of failing rows reads
// in a few lines.
type failureSummary map[string]*failureGroup

type failureGroup struct {
	rows                      int
	protocols, policies, what map[string]bool
}

func (s failureSummary) add(row, proto, policy string, problems []string) {
	if len(problems) == 0 {
		return
	}
	g := s[row]
	if g == nil {
		g = &failureGroup{protocols: map[string]bool{}, policies: map[string]bool{}, what: map[string]bool{}}
		s[row] = g
	}
	g.rows++
	g.protocols[proto], g.policies[policy] = true, true
	for _, p := range problems {
		what, _, _ := strings.Cut(p, ":")
		g.what[what] = true
	}
}

func (s failureSummary) String() string {
	var b strings.Builder
	for _, row := range slices.Sorted(maps.Keys(s)) {
		g := s[row]
		fmt.Fprintf(&b, "\t%s: %d rows (%s; %s): %s\n", row, g.rows,
			strings.Join(slices.Sorted(maps.Keys(g.protocols)), " "),
			strings.Join(slices.Sorted(maps.Keys(g.policies)), " "),
			strings.Join(slices.Sorted(maps.Keys(g.what)), ", "))
	}
	return b.String()
}

// loadComposition loads config in a subtest of its own, so that caddytest
// dumps the config only when loading it fails, not on every failing row.
func loadComposition(t *testing.T, name, config string) {
	t.Helper()
	if !t.Run("load/"+name, func(t *testing.T) {
		loadConfig(t, caddytest.NewTester(t), config, "caddyfile")
		waitForCertificates(t)
	}) {
		t.Fatalf("the %s config did not load:\n%s", name, config)
	}
}

// waitForCertificates waits until every site answers over TLS: tls internal
// issues the certificates while the config starts, the first time in a
// fresh storage.
func waitForCertificates(t *testing.T) {
	c := transports[2].client()
	defer c.CloseIdleConnections()
	for _, host := range []string{"localhost", "errors.localhost", "issue.localhost"} {
		var got captured
		for range 50 {
			if got = roundTrip(c, "h2", host, http.MethodGet, "/", "", nil, ""); got.err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if got.err != nil {
			t.Fatalf("https://%s:9443 does not answer: %v", host, got.err)
		}
	}
}

// policyCase is one policy of the table and, beside it, what it
// allows, written out plainly so that the expected decision does not come
// from the module's own code.
type policyCase struct {
	name      string
	directive string   // the cors directive, in a Caddyfile
	origins   []string // exact origins allowed
	subdomain string   // https://*.<subdomain> allowed
	any       bool     // every origin allowed
	creds     bool     // allow_credentials
	allowed   string   // an origin the policy allows, for the rows
}

var policyCases = []policyCase{
	{
		name:      "exact",
		directive: "cors https://app.example.com https://other.example.com",
		origins:   []string{"https://app.example.com", "https://other.example.com"},
		allowed:   "https://other.example.com",
	},
	{
		name:      "subdomain",
		directive: "cors https://*.example.com",
		subdomain: "example.com",
		allowed:   "https://deep.api.example.com",
	},
	{
		name:      "any",
		directive: "cors",
		any:       true,
		allowed:   "https://anyone.example.org",
	},
	{
		name:      "credentials",
		directive: "cors https://app.example.com {\n\tallow_credentials\n}",
		origins:   []string{"https://app.example.com"},
		creds:     true,
		allowed:   "https://app.example.com",
	},
}

const refusedOrigin = "https://evil.example.net"

// allows tells whether the policy grants origin, by its table entry.
func (p policyCase) allows(origin string) bool {
	switch {
	case p.any:
		return true
	case slices.Contains(p.origins, origin):
		return true
	case p.subdomain != "":
		host, ok := strings.CutPrefix(origin, "https://")
		return ok && !strings.ContainsAny(host, ":/") && strings.HasSuffix(host, "."+p.subdomain) && len(host) > len(p.subdomain)+1
	}
	return false
}

// decision is what the owned headers of an actual response must be for a
// request with origin ("" for none), and the Vary tokens the policy adds.
func (p policyCase) decision(origin string) (owned map[string]string, vary []string) {
	owned = map[string]string{}
	if p.any {
		owned["Access-Control-Allow-Origin"] = "*"
		return owned, nil
	}
	if origin != "" && p.allows(origin) {
		owned["Access-Control-Allow-Origin"] = origin
		if p.creds {
			owned["Access-Control-Allow-Credentials"] = "true"
		}
	}
	return owned, []string{"Origin"}
}

// requestCase is one request of a row: its Origin, and for
// preflights what they ask for.
type requestCase struct {
	name    string
	origin  string
	method  string // Access-Control-Request-Method of a preflight
	headers string // Access-Control-Request-Headers of a preflight
}

func requestCases(p policyCase, preflight bool) []requestCase {
	if preflight {
		return []requestCase{
			{name: "preflight-allowed", origin: p.allowed, method: "POST", headers: "content-type"},
			{name: "preflight-method-refused", origin: p.allowed, method: "PUT"},
			{name: "preflight-origin-refused", origin: refusedOrigin, method: "POST"},
		}
	}
	return []requestCase{
		{name: "allowed-origin", origin: p.allowed},
		{name: "refused-origin", origin: refusedOrigin},
		{name: "no-origin"},
	}
}

// The module's defaults (no methods or allowed_headers in any policy above).
const (
	defaultMethodsList = "GET, HEAD, POST"
	defaultHeadersList = "Accept, Content-Type, X-Requested-With"
)

// checkModulePreflight checks a preflight the module answers itself: the next
// handler never runs, so there is no baseline to compare with.
func checkModulePreflight(p policyCase, req requestCase, got captured) []string {
	if got.err != nil {
		return []string{fmt.Sprintf("request failed: %v", got.err)}
	}
	var problems []string
	owned := map[string]string{}
	wantStatus := http.StatusNoContent
	if p.allows(req.origin) {
		owned["Access-Control-Allow-Origin"] = req.origin
		if p.any {
			owned["Access-Control-Allow-Origin"] = "*"
		}
		if p.creds {
			owned["Access-Control-Allow-Credentials"] = "true"
		}
		owned["Access-Control-Allow-Methods"] = defaultMethodsList
		// A refused method gets the configured lists, so that the browser
		// names what it refuses; a grant names headers only when asked.
		if req.headers != "" || !slices.Contains(strings.Split(defaultMethodsList, ", "), req.method) {
			owned["Access-Control-Allow-Headers"] = defaultHeadersList
		}
	} else {
		wantStatus = http.StatusForbidden
	}
	if got.status != wantStatus {
		problems = append(problems, fmt.Sprintf("status %d, want %d", got.status, wantStatus))
	}
	if got.body != "" {
		problems = append(problems, fmt.Sprintf("body %q, want none", got.body))
	}
	problems = append(problems, checkOwned("", got.header, nil, owned)...)
	vary := []string{"Access-Control-Request-Method", "Access-Control-Request-Headers"}
	if !p.any {
		vary = append([]string{"Origin"}, vary...)
	}
	problems = append(problems, checkVary("", got.header, nil, vary)...)
	return problems
}

// checkOwnership checks one response with cors (got) against the same
// request without cors (want) and the policy's decision.
func checkOwnership(p policyCase, r scenario, origin string, got, want captured) []string {
	switch {
	case want.err != nil && got.err != nil:
		// The handler aborted: no response goes out, and the client must
		// see the same failure as without cors (the connection closed over
		// HTTP/1.1, the stream reset with INTERNAL_ERROR over HTTP/2 and 3),
		// not one of the module's making.
		if g, w := failure(got.err), failure(want.err); g != w {
			return []string{fmt.Sprintf("request failed with %q, without cors with %q", g, w)}
		}
		return nil
	case want.err != nil:
		return []string{fmt.Sprintf("got a response (status %d), but without cors the request failed: %v", got.status, want.err)}
	case got.err != nil:
		return []string{fmt.Sprintf("request failed: %v; without cors: status %d", got.err, want.status)}
	}
	owned, vary := p.decision(origin)
	maps.Copy(owned, r.ungoverned)
	var problems []string
	if got.status != want.status {
		problems = append(problems, fmt.Sprintf("status %d, without cors %d", got.status, want.status))
	}
	if got.body != want.body {
		problems = append(problems, fmt.Sprintf("body %q, without cors %q", clip(got.body), clip(want.body)))
	}
	if (got.bodyErr == nil) != (want.bodyErr == nil) {
		problems = append(problems, fmt.Sprintf("reading the body: %v, without cors: %v", got.bodyErr, want.bodyErr))
	}
	problems = append(problems, checkOwned("", got.header, want.header, owned)...)
	problems = append(problems, checkVary("", got.header, want.header, vary)...)
	problems = append(problems, checkOthers("", got.header, want.header)...)
	if len(got.interim) != len(want.interim) {
		problems = append(problems, fmt.Sprintf("%d informational responses %v, without cors %d %v",
			len(got.interim), got.interim, len(want.interim), want.interim))
		return problems
	}
	for i, g := range got.interim {
		w := want.interim[i]
		where := fmt.Sprintf("informational response %d: ", g.status)
		if g.status != w.status {
			problems = append(problems, fmt.Sprintf("%sstatus, without cors %d", where, w.status))
		}
		problems = append(problems, checkOwned(where, g.header, w.header, owned)...)
		problems = append(problems, checkVary(where, g.header, w.header, vary)...)
		problems = append(problems, checkOthers(where, g.header, w.header)...)
	}
	return problems
}

// failure is how a request failed, without the numbers (ports, stream IDs)
// that differ from one request to the next.
func failure(err error) string {
	return strings.Map(func(r rune) rune {
		if '0' <= r && r <= '9' {
			return -1
		}
		return r
	}, err.Error())
}

var ownedNames = []string{
	"Access-Control-Allow-Origin",
	"Access-Control-Allow-Credentials",
	"Access-Control-Allow-Methods",
	"Access-Control-Allow-Headers",
	"Access-Control-Allow-Private-Network",
	"Access-Control-Expose-Headers",
	"Access-Control-Max-Age",
}

func checkOwned(where string, got, base http.Header, want map[string]string) []string {
	var problems []string
	for _, name := range ownedNames {
		var w []string
		if v, ok := want[name]; ok {
			w = []string{v}
		}
		if g := got.Values(name); !slices.Equal(g, w) {
			without := ""
			if base != nil {
				without = fmt.Sprintf("; without cors %q", base.Values(name))
			}
			problems = append(problems, fmt.Sprintf("%s%s: got %q, want %q (the policy's decision%s)", where, name, g, w, without))
		}
	}
	return problems
}

// checkVary wants the module's tokens exactly once, and every other token
// as often as without cors.
func checkVary(where string, got, base http.Header, module []string) []string {
	want := map[string]int{}
	for _, tok := range varyTokens(base) {
		want[strings.ToLower(tok)]++
	}
	for _, tok := range module {
		want[strings.ToLower(tok)] = 1
	}
	counts := map[string]int{}
	for _, tok := range varyTokens(got) {
		counts[strings.ToLower(tok)]++
	}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		return []string{fmt.Sprintf("%sVary: got %q, want %q once each and the others as without cors: %q",
			where, got.Values("Vary"), module, base.Values("Vary"))}
	}
	return nil
}

func varyTokens(h http.Header) []string {
	var out []string
	for _, line := range h.Values("Vary") {
		for tok := range strings.SplitSeq(line, ",") {
			if tok = strings.TrimSpace(tok); tok != "" {
				out = append(out, tok)
			}
		}
	}
	return out
}

// checkOthers wants every header the module does not own, but Date, exactly
// as without cors.
func checkOthers(where string, got, want http.Header) []string {
	var problems []string
	skip := func(k string) bool {
		return k == "Date" || k == "Vary" || slices.Contains(ownedNames, k)
	}
	for k, w := range want {
		if !skip(k) && !slices.Equal(got[k], w) {
			problems = append(problems, fmt.Sprintf("%s%s: got %q, without cors %q", where, k, got[k], w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok && !skip(k) {
			problems = append(problems, fmt.Sprintf("%s%s: got %q, without cors none", where, k, g))
		}
	}
	slices.Sort(problems)
	return problems
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// transport is a way of reaching the test server.
type transport struct {
	name   string
	scheme string
	port   string
	client func() *http.Client
}

var transports = []transport{
	{"h1", "http", "9080", func() *http.Client {
		var p http.Protocols
		p.SetHTTP1(true)
		return loopbackClient(&http.Transport{Protocols: &p, DisableCompression: true, DialContext: dialLoopback})
	}},
	{"h2c", "http", "9080", func() *http.Client {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		return loopbackClient(&http.Transport{Protocols: &p, DisableCompression: true, DialContext: dialLoopback})
	}},
	{"h2", "https", "9443", func() *http.Client {
		var p http.Protocols
		p.SetHTTP2(true)
		return loopbackClient(&http.Transport{Protocols: &p, DisableCompression: true, DialContext: dialLoopback,
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}) //nolint:gosec // tls internal on loopback
	}},
	{"h3", "https", "9443", func() *http.Client {
		return loopbackClient(&http3.Transport{
			TLSClientConfig:    &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // tls internal on loopback
			DisableCompression: true,
			Dial: func(ctx context.Context, addr string, tlsCfg *tls.Config, cfg *quic.Config) (*quic.Conn, error) {
				_, port, _ := net.SplitHostPort(addr)
				return quic.DialAddrEarly(ctx, net.JoinHostPort("127.0.0.1", port), tlsCfg, cfg)
			},
		})
	}},
}

func loopbackClient(rt http.RoundTripper) *http.Client {
	return &http.Client{
		Transport:     rt,
		Timeout:       5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// dialLoopback reaches every test host name (localhost, errors.localhost,
// issue.localhost) on 127.0.0.1.
func dialLoopback(ctx context.Context, network, addr string) (net.Conn, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
}

// captured is what the client saw.
type captured struct {
	err     error // the request failed: no response
	proto   string
	status  int
	header  http.Header
	body    string
	bodyErr error // the body ended in an error
	interim []interimResponse
}

type interimResponse struct {
	status int
	header http.Header
}

func (i interimResponse) String() string { return fmt.Sprint(i.status) }

func roundTrip(c *http.Client, proto, host, method, path, body string, header []string, origin string) captured {
	i := slices.IndexFunc(transports, func(p transport) bool { return p.name == proto })
	scheme, port := transports[i].scheme, transports[i].port
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	var out captured
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		out.interim = append(out.interim, interimResponse{code, http.Header(h).Clone()})
		return nil
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
		method, scheme+"://"+host+":"+port+path, rd)
	if err != nil {
		return captured{err: err}
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := c.Do(req)
	if err != nil {
		return captured{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	out.proto, out.status, out.header, out.body, out.bodyErr = resp.Proto, resp.StatusCode, resp.Header, string(b), err
	return out
}

// websocketHandshake upgrades by hand over HTTP/1.1: the 101's headers are
// what is checked; the connection is closed right after.
func websocketHandshake(host, path, origin string) captured {
	conn, err := net.DialTimeout("tcp", "127.0.0.1:9080", 5*time.Second)
	if err != nil {
		return captured{err: err}
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s:9080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", path, host)
	b.WriteString("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n")
	if origin != "" {
		fmt.Fprintf(&b, "Origin: %s\r\n", origin)
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return captured{err: err}
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return captured{err: err}
	}
	return captured{proto: resp.Proto, status: resp.StatusCode, header: resp.Header}
}

// scenario is one directive (or combination) on a path of its own:
// /<name>/ on its site, handled by a handle_path block holding config.
type scenario struct {
	name   string
	dir    string // the path prefix, when not /<name>
	site   string // "localhost", "errors.localhost" or "issue.localhost"
	config string // inside handle_path /<name>/*; "" for the issue site
	errors string // inside the site's handle_errors, for this path

	// ungoverned are the owned headers that a handle_errors route without
	// a cors of its own sets: they are that route's, not the site's cors'.
	ungoverned map[string]string
	method     string
	path       string // below /<name>; for the issue site the whole path
	header     []string
	body       string
	only       string // served over this protocol only
	policy     string // only with this policy
	status     int    // what the row answers without cors; -1: no response
	interim    int    // informational responses before it
	preflight  bool   // a preflight the module answers: no baseline
	websocket  bool
	notOver    string // not served over this protocol (the row says why)
}

// checkBaseline guards the table itself: a row whose path no handler
// matches would compare two identical, irrelevant answers.
func (r scenario) checkBaseline(proto string, base captured) string {
	wantProto := map[string]string{"h1": "HTTP/1.1", "h2c": "HTTP/2.0", "h2": "HTTP/2.0", "h3": "HTTP/3.0"}[proto]
	switch {
	case base.err == nil && base.proto != wantProto:
		return fmt.Sprintf("the row is broken: the response came over %s, want %s", base.proto, wantProto)
	case r.status == -1 && base.err == nil:
		return fmt.Sprintf("the row is broken: without cors the client got status %d, want no response", base.status)
	case r.status == -1:
		return ""
	case base.err != nil:
		return fmt.Sprintf("the row is broken: without cors the request failed (%v), want status %d", base.err, r.status)
	case base.status != r.status:
		return fmt.Sprintf("the row is broken: without cors status %d, want %d (body %q)", base.status, r.status, clip(base.body))
	case len(base.interim) != r.interim:
		return fmt.Sprintf("the row is broken: without cors %d informational responses, want %d", len(base.interim), r.interim)
	}
	return ""
}

func (r scenario) servedOver(proto string) bool {
	return (r.only == "" || r.only == proto) && r.notOver != proto
}

func (r scenario) url() string {
	if r.site == "issue.localhost" {
		return r.path
	}
	if r.dir != "" {
		return "/" + r.dir + r.path
	}
	return "/" + r.name + r.path
}

func (r scenario) do(c *http.Client, proto, origin string) captured {
	if r.websocket {
		return websocketHandshake(r.site, r.url(), origin)
	}
	method := r.method
	if method == "" {
		method = http.MethodGet
	}
	return roundTrip(c, proto, r.site, method, r.url(), r.body, r.header, origin)
}

func (r scenario) doPreflight(c *http.Client, proto string, req requestCase) captured {
	if !r.preflight {
		return r.do(c, proto, req.origin)
	}
	header := []string{"Access-Control-Request-Method", req.method}
	if req.headers != "" {
		header = append(header, "Access-Control-Request-Headers", req.headers)
	}
	return roundTrip(c, proto, r.site, http.MethodOptions, r.url(), "", header, req.origin)
}

// backends holds the upstreams and files the rows use.
type backends struct {
	upstream string // reverse_proxy backend
	auth     string // forward_auth backend
	dead     string // nothing listens there
	root     string // file_server root
	hash     string // bcrypt of "secret" for bob
}

func newBackends(t *testing.T) *backends {
	t.Helper()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		switch r.URL.Path {
		case "/cors": // a backend with CORS of its own, more generous than any policy
			h.Set("Access-Control-Allow-Origin", "*")
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Allow-Methods", "*")
			h.Set("Access-Control-Expose-Headers", "X-Upstream")
			h.Set("Vary", "Origin")
			h.Set("X-Upstream", "cors")
			io.WriteString(w, "from backend")
		case "/plain":
			io.WriteString(w, "plain backend")
		case "/hints": // 103 Early Hints with a grant of its own, then the answer
			h.Set("Link", "</app.js>; rel=preload; as=script")
			h.Set("Access-Control-Allow-Origin", "*")
			w.WriteHeader(http.StatusEarlyHints)
			h.Del("Link")
			io.WriteString(w, "after hints")
		case "/stream":
			h.Set("Access-Control-Allow-Origin", "*")
			h.Set("Content-Type", "text/event-stream")
			for i := range 3 {
				fmt.Fprintf(w, "data: %d\n\n", i)
				http.NewResponseController(w).Flush()
			}
		case "/ws":
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
				"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
				"Access-Control-Allow-Origin: *\r\nAccess-Control-Allow-Credentials: true\r\nX-Upstream: ws\r\n\r\n")
			brw.Flush()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			io.Copy(io.Discard, conn)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(upstream.Close)
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Credentials", "true")
		switch r.URL.Path {
		case "/deny":
			h.Set("Www-Authenticate", `Bearer realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, "denied")
		default:
			h.Set("X-User", "bob")
		}
	}))
	t.Cleanup(auth.Close)

	root := t.TempDir()
	files := map[string]string{
		"hello.txt":   "hello, composition\n",
		"app.js":      strings.Repeat("console.log('app');\n", 40),
		"big.txt":     strings.Repeat("a line of text that compresses well\n", 100),
		"page.html":   "<p>{{.Req.URL.Path}} from {{.Req.Header.Get \"Origin\"}}</p>\n",
		"broken.html": "<p>{{httpError 503}}</p>\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Not the gzip of app.js: file_server serves it as it is, and the test
	// compares bytes, not what they decode to.
	if err := os.WriteFile(filepath.Join(root, "app.js.gz"), []byte("\x1f\x8bprecompressed"), 0o644); err != nil {
		t.Fatal(err)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return &backends{
		upstream: upstream.Listener.Addr().String(),
		auth:     auth.Listener.Addr().String(),
		dead:     deadUpstream(t),
		root:     root,
		hash:     string(hash),
	}
}

// setsEveryOwnedHeader is a later handler granting everything.
const setsEveryOwnedHeader = `header Access-Control-Allow-Origin "*"
header Access-Control-Allow-Credentials true
header Access-Control-Allow-Methods "*"
header Access-Control-Allow-Headers "*"
header Access-Control-Allow-Private-Network true
header Access-Control-Expose-Headers "*"
header Access-Control-Max-Age 86400`

// leaks sets a grant no policy makes, for rows where a handler errors next.
const leaks = `header Access-Control-Allow-Origin "*"
header Access-Control-Allow-Credentials true`

func (e *backends) rows(etag string) []scenario {
	up, dead, auth := e.upstream, e.dead, e.auth
	rows := []scenario{
		// header
		{name: "header-immediate", status: 200, config: "header Access-Control-Allow-Origin \"*\"\nheader X-Extra immediate\nrespond \"immediate\""},
		{name: "header-deferred", status: 200, config: "header >Access-Control-Allow-Origin \"*\"\nheader >X-Extra deferred\nrespond \"deferred\""},
		{name: "header-delete", status: 200, config: "header -Access-Control-*\nrespond \"deleted\""},
		{name: "header-every-owned", status: 201, config: setsEveryOwnedHeader + "\nrespond \"granted everything\" 201"},
		{name: "header-no-response", status: 200, config: leaks},
		{name: "header-then-error", status: 503, config: leaks + "\nerror \"header then error\" 503"},
		{name: "header-deferred-then-error", status: 500, config: "header >Access-Control-Allow-Origin \"*\"\nerror \"deferred then error\" 500"},
		// basic_auth
		{name: "basic_auth", status: 401, config: "basic_auth {\n\tbob " + e.hash + "\n}\nrespond \"secret\""},
		{name: "basic_auth-after-header", status: 401, config: leaks + "\nbasic_auth {\n\tbob " + e.hash + "\n}\nrespond \"secret\""},
		{name: "basic_auth-ok", status: 200, config: leaks + "\nbasic_auth {\n\tbob " + e.hash + "\n}\nrespond \"secret\"",
			header: []string{"Authorization", "Basic Ym9iOnNlY3JldA=="}},
		// forward_auth
		{name: "forward_auth-401", status: 401, config: "forward_auth " + auth + " {\n\turi /deny\n}\nrespond \"behind auth\""},
		{name: "forward_auth-copy_headers", status: 200, config: "forward_auth " + auth + " {\n\turi /allow\n\tcopy_headers Access-Control-Allow-Origin Access-Control-Allow-Credentials X-User\n}\n" +
			"header X-Seen-User {http.request.header.X-User}\nrespond \"user {http.request.header.X-User}\""},
		// reverse_proxy
		{name: "reverse_proxy-upstream-cors", status: 200, config: "reverse_proxy " + up + " {\n\trewrite /cors\n}"},
		{name: "reverse_proxy-header_down", status: 200, config: "reverse_proxy " + up + " {\n\trewrite /plain\n\theader_down Access-Control-Allow-Origin \"*\"\n\theader_down X-Down yes\n}"},
		{name: "reverse_proxy-handle_response", status: 202, config: "reverse_proxy " + up + " {\n\trewrite /cors\n\t@ok status 2xx\n\thandle_response @ok {\n" +
			"\t\theader Access-Control-Allow-Origin \"*\"\n\t\theader X-Handled yes\n\t\trespond \"handled\" 202\n\t}\n}"},
		{name: "reverse_proxy-copy_response", status: 203, config: "reverse_proxy " + up + " {\n\trewrite /cors\n\t@ok status 2xx\n\thandle_response @ok {\n" +
			"\t\tcopy_response_headers {\n\t\t\texclude X-Upstream\n\t\t}\n\t\tcopy_response 203\n\t}\n}"},
		{name: "reverse_proxy-handle_response-error", status: 502, config: "reverse_proxy " + up + " {\n\trewrite /cors\n\t@ok status 2xx\n\thandle_response @ok {\n" +
			"\t\theader Access-Control-Allow-Origin \"*\"\n\t\terror \"after the proxy\" 502\n\t}\n}"},
		{name: "reverse_proxy-early-hints", status: 200, interim: 1, config: "reverse_proxy " + up + " {\n\trewrite /hints\n}"},
		{name: "reverse_proxy-dead", status: 502, config: "reverse_proxy " + dead},
		{name: "reverse_proxy-dead-after-header", status: 502, config: leaks + "\nreverse_proxy " + dead},
		{name: "reverse_proxy-flush_interval", status: 200, config: "reverse_proxy " + up + " {\n\trewrite /stream\n\tflush_interval -1\n}"},
		{name: "reverse_proxy-websocket", status: 101, config: "reverse_proxy " + up + " {\n\trewrite /ws\n}", only: "h1", websocket: true},
		// file_server
		{name: "file_server-200", status: 200, config: "root * " + e.root + "\nheader X-Files yes\nfile_server", path: "/hello.txt"},
		{name: "file_server-304", status: 304, config: "root * " + e.root + "\nfile_server", path: "/hello.txt", header: []string{"If-None-Match", etag}},
		{name: "file_server-206", status: 206, config: "root * " + e.root + "\nfile_server", path: "/hello.txt", header: []string{"Range", "bytes=0-4"}},
		{name: "file_server-head", status: 200, config: "root * " + e.root + "\nfile_server", path: "/hello.txt", method: http.MethodHead},
		{name: "file_server-404", status: 404, config: "root * " + e.root + "\nfile_server", path: "/missing.txt"},
		{name: "file_server-404-after-header", status: 404, config: "root * " + e.root + "\n" + leaks + "\nfile_server", path: "/missing.txt"},
		{name: "file_server-precompressed", status: 200, config: "root * " + e.root + "\nfile_server {\n\tprecompressed gzip\n}", path: "/app.js",
			header: []string{"Accept-Encoding", "gzip"}},
		// encode
		{name: "encode-gzip", status: 200, config: "root * " + e.root + "\nencode gzip\nfile_server", path: "/big.txt", header: []string{"Accept-Encoding", "gzip"}},
		{name: "encode-zstd", status: 200, config: "root * " + e.root + "\nencode zstd\nfile_server", path: "/big.txt", header: []string{"Accept-Encoding", "zstd"}},
		{name: "encode-upstream-cors", status: 200, config: "encode gzip\nreverse_proxy " + up + " {\n\trewrite /cors\n}", header: []string{"Accept-Encoding", "gzip"}},
		// templates
		{name: "templates", status: 200, config: "root * " + e.root + "\ntemplates\nfile_server", path: "/page.html"},
		{name: "templates-httpError", status: 503, config: "root * " + e.root + "\n" + leaks + "\ntemplates\nfile_server", path: "/broken.html"},
		// respond, error, redir, request_body
		{name: "respond", status: 201, config: "respond \"plain response\" 201"},
		{name: "error", status: 418, config: "error \"teapot\" 418"},
		{name: "redir", status: 308, config: leaks + "\nredir * /elsewhere 308"},
		{name: "request_body-413", status: 413, config: leaks + "\nrequest_body {\n\tmax_size 10\n}\nreverse_proxy " + up + " {\n\trewrite /plain\n}",
			method: http.MethodPost, body: strings.Repeat("x", 100)},
		// intercept
		{name: "intercept", status: 404, config: "intercept {\n\t@404 status 404\n\thandle_response @404 {\n\t\theader Access-Control-Allow-Origin \"*\"\n" +
			"\t\theader X-Intercepted yes\n\t\trespond \"intercepted\" 404\n\t}\n}\nrespond \"missing\" 404"},
		{name: "intercept-error", status: 410, config: "intercept {\n\t@404 status 404\n\thandle_response @404 {\n\t\theader Access-Control-Allow-Origin \"*\"\n" +
			"\t\terror \"gone\" 410\n\t}\n}\nrespond \"missing\" 404"},
		// route, invoke
		{name: "route", status: 200, config: "route {\n\theader Access-Control-Allow-Origin \"*\"\n\theader Access-Control-Max-Age 600\n\trespond \"route\"\n}"},
		{name: "route-error", status: 500, config: "route {\n\theader Access-Control-Allow-Origin \"*\"\n\terror \"route failed\" 500\n}"},
		{name: "invoke", status: 200, config: "invoke granting"},
		{name: "invoke-error", status: 500, config: "invoke failing"},
		// handlers no stock directive imitates
		{name: "panic", status: -1, config: "cors_test_misbehave panic"},
		// Not over HTTP/3: quic-go resets the stream on the panic, and
		// whether the client has read the flushed header by then is a race,
		// with cors or without; most requests get no response at all.
		{name: "panic-after-write", status: 200, config: "cors_test_misbehave panic_after_write", notOver: "h3"},
		{name: "early-hints-then-error", status: 503, interim: 1, config: "cors_test_misbehave early_hints_then_error"},
		{name: "lowercase-keys", status: 200, config: "cors_test_misbehave lowercase_then_write"},
		{name: "lowercase-keys-then-error", status: 500, config: "cors_test_misbehave lowercase_then_error"},
		// handle_errors: a site of their own, so that the rows above see
		// the errors Caddy writes when a site has no handle_errors
		// the errors Caddy writes when a site has no handle_errors. A
		// handle_errors route is a route of its own: a cors there governs
		// it, and without one the headers it sets itself are its own.
		{name: "handle_errors-respond", status: 503, site: "errors.localhost", config: "error \"boom\" 503",
			errors: "respond \"custom {err.status_code}\""},
		{name: "handle_errors-after-header", status: 503, site: "errors.localhost", config: leaks + "\nerror \"boom\" 503",
			errors: "respond \"custom {err.status_code}\""},
		{name: "handle_errors-header", status: 503, site: "errors.localhost", config: "error \"boom\" 503",
			errors:     "header Access-Control-Allow-Origin \"*\"\nrespond \"custom {err.status_code}\"",
			ungoverned: map[string]string{"Access-Control-Allow-Origin": "*"}},
		{name: "handle_errors-header-own-cors", status: 503, site: "errors.localhost", config: "error \"boom\" 503",
			errors: "{cors}\n" + setsEveryOwnedHeader + "\nrespond \"own cors {err.status_code}\""},
		{name: "handle_errors-error", status: 503, site: "errors.localhost", config: "error \"boom\" 503",
			errors:     leaks + "\nerror \"again\" 500",
			ungoverned: map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Credentials": "true"}},
		{name: "handle_errors-error-own-cors", status: 503, site: "errors.localhost", config: "error \"boom\" 503",
			errors: "{cors}\n" + leaks + "\nerror \"again\" 500"},
	}
	// The module answers these preflights itself: they never reach the
	// directive.
	for _, name := range []string{"header-immediate", "basic_auth", "reverse_proxy-upstream-cors", "error", "handle_errors-header"} {
		for _, r := range rows {
			if r.name == name {
				r.preflight = true
				r.dir, r.name = r.name, r.name+"-preflight"
				rows = append(rows, r)
				break
			}
		}
	}
	// The config of issue 9, as a user wrote it.
	for _, path := range []struct {
		path   string
		status int
	}{{"/ok", 200}, {"/private/x", 401}, {"/dead/x", 502}, {"/err/x", 418}} {
		rows = append(rows, scenario{name: "issue9" + strings.ReplaceAll(path.path, "/", "-"), site: "issue.localhost",
			path: path.path, status: path.status, policy: "credentials"})
	}
	for i := range rows {
		if rows[i].site == "" {
			rows[i].site = "localhost"
		}
		if rows[i].path == "" {
			rows[i].path = "/x"
		}
	}
	return rows
}

// config is the Caddyfile of the test: the rows' paths on three sites, each
// served over HTTP/1.1 and h2c on :9080 and HTTP/1.1, HTTP/2 and HTTP/3 on
// :9443. With policy nil it is the baseline, without any cors.
func (e *backends) config(policy *policyCase) string {
	corsLine := ""
	if policy != nil {
		corsLine = policy.directive
	}
	rows := e.rows(`"unused"`)
	var b strings.Builder
	b.WriteString(`{
	skip_install_trust
	admin localhost:2999
	http_port 9080
	https_port 9443
	grace_period 1ns
	auto_https disable_redirects
	servers :9080 {
		protocols h1 h2c
	}
	servers :9443 {
		protocols h1 h2 h3
	}
}
`)
	site := func(host string, body func()) {
		fmt.Fprintf(&b, "\nhttp://%s:9080, https://%s:9443 {\n\ttls internal\n", host, host)
		body()
		b.WriteString("}\n")
	}
	handles := func(host string) {
		b.WriteString(indent(corsLine, 1))
		var errs strings.Builder
		for _, r := range rows {
			if r.site != host || r.preflight {
				continue
			}
			fmt.Fprintf(&b, "\thandle_path /%s/* {\n%s\t}\n", r.name, indent(r.config, 2))
			if r.errors != "" {
				inner := strings.ReplaceAll(r.errors, "{cors}", corsLine)
				fmt.Fprintf(&errs, "\t\thandle /%s/* {\n%s\t\t}\n", r.name, indent(inner, 3))
			}
		}
		if errs.Len() > 0 {
			fmt.Fprintf(&b, "\thandle_errors {\n%s\t}\n", errs.String())
		}
	}
	// Named routes, for invoke, live outside the sites. Their directives
	// go in a route block: Caddy v2.11.9 keeps only the first handler of a
	// named route whose directives compile to one route without matchers.
	b.WriteString("\n&(granting) {\n\troute {\n" + indent(setsEveryOwnedHeader, 2) + "\t\theader X-Named yes\n\t\trespond \"named route\"\n\t}\n}\n")
	b.WriteString("\n&(failing) {\n\troute {\n" + indent(leaks, 2) + "\t\terror \"named route failed\" 500\n\t}\n}\n")
	site("localhost", func() { handles("localhost") })
	site("errors.localhost", func() { handles("errors.localhost") })
	issueCors := ""
	if policy != nil {
		issueCors = "cors https://app.example.com {\n\tallow_credentials\n}"
	}
	site("issue.localhost", func() {
		b.WriteString(indent(issueCors, 1))
		b.WriteString(indent(`header Access-Control-Allow-Origin "*"
basic_auth /private/* {
	bob `+e.hash+`
}
handle /dead/* {
	reverse_proxy `+e.dead+`
}
handle /err/* {
	error 418
}
respond "ok"`, 1))
	})
	return b.String()
}

func indent(s string, depth int) string {
	if s == "" {
		return ""
	}
	var b strings.Builder
	for line := range strings.SplitSeq(s, "\n") {
		b.WriteString(strings.Repeat("\t", depth) + line + "\n")
	}
	return b.String()
}

func init() {
	caddy.RegisterModule(misbehave{})
	httpcaddyfile.RegisterHandlerDirective("cors_test_misbehave", parseMisbehave)
	httpcaddyfile.RegisterDirectiveOrder("cors_test_misbehave", httpcaddyfile.Before, "respond")
}

// misbehave is a test-only handler that leaves by the exits no stock
// directive takes: it grants everything in the header map, then panics
// (before or after writing), or sends 103 Early Hints and returns an error.
type misbehave struct {
	// Mode is panic, panic_after_write, early_hints_then_error,
	// lowercase_then_write or lowercase_then_error.
	Mode string `json:"mode,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (misbehave) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.cors_test_misbehave",
		New: func() caddy.Module { return new(misbehave) },
	}
}

func (m misbehave) ServeHTTP(w http.ResponseWriter, _ *http.Request, _ caddyhttp.Handler) error {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Set("X-Misbehave", m.Mode)
	switch m.Mode {
	case "panic":
		panic(http.ErrAbortHandler)
	case "panic_after_write":
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "partial")
		http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	case "early_hints_then_error":
		h.Set("Link", "</app.js>; rel=preload; as=script")
		w.WriteHeader(http.StatusEarlyHints)
		h.Set("Access-Control-Expose-Headers", "X-Secret")
		return caddyhttp.Error(http.StatusServiceUnavailable, errors.New("after early hints"))
	case "lowercase_then_write", "lowercase_then_error":
		// Keys a handler writes into the map directly, not canonicalized:
		// HTTP/1.1 sends them as they are, and clients read them as the
		// same header.
		h["access-control-allow-origin"] = []string{"https://evil.example.net"}
		h["access-control-max-age"] = []string{"86400"}
		if m.Mode == "lowercase_then_error" {
			return caddyhttp.Error(http.StatusInternalServerError, errors.New("after lowercase keys"))
		}
		io.WriteString(w, "lowercase keys")
	}
	return nil
}

func parseMisbehave(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(misbehave)
	h.Next()
	if !h.NextArg() {
		return nil, h.ArgErr()
	}
	m.Mode = h.Val()
	return m, nil
}

// Interface guards
var (
	_ caddyhttp.MiddlewareHandler = (*misbehave)(nil)
)
