package cors

//lint:file-ignore SA1019 x/net/http2's Transport is deprecated for net/http's, which refuses the :protocol field of an extended CONNECT.

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"golang.org/x/net/http2"
	"golang.org/x/net/websocket"
)

// These tests put cross_origin_protection in front of reverse_proxy in a
// real Caddy, and a backend that records every request that reaches it: a
// refused request must never reach it.

// The API's site and the origins of the tests. Names under .test resolve
// nowhere: the client dials loopback and sends them as Host.
const (
	protectedSite    = "api.example.test"
	trustedOrigin    = "https://app.example.test"
	untrustedOrigin  = "https://evil.example.net"
	siblingOrigin    = "https://blog.example.test" // same site as the API, not in the policy
	protectionPolicy = `cors https://app.example.test {
		methods GET POST PUT PATCH DELETE
		allow_credentials
		cross_origin_protection
	}`
)

// recordingBackend records the path of every request that reaches it,
// answers "reached", and echoes WebSocket messages on /ws/.
type recordingBackend struct {
	*httptest.Server
	mu   sync.Mutex
	seen map[string]int
}

func newRecordingBackend(t *testing.T) *recordingBackend {
	b := &recordingBackend{seen: map[string]int{}}
	echo := websocket.Server{Handler: func(c *websocket.Conn) { _, _ = io.Copy(c, c) }}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.seen[r.Method+" "+r.URL.Path]++
		b.mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/ws/") {
			echo.ServeHTTP(w, r)
			return
		}
		fmt.Fprint(w, "reached")
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *recordingBackend) reached(method, path string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.seen[method+" "+path] > 0
}

// protectionConfig serves the protected API on :9080 (and the admin
// metrics) in front of backend.
func protectionConfig(backend string) string {
	return caddyGlobals + fmt.Sprintf(`
http://%s:9080 {
	handle /metrics {
		metrics
	}
	handle {
		%s
		reverse_proxy %s
	}
}
`, protectedSite, protectionPolicy, backend)
}

// protectionRequestCases are the writes of the proof: each method from an
// untrusted origin with Sec-Fetch-Site cross-site, from a sibling subdomain
// with same-site, from a foreign Origin without Sec-Fetch-Site (an old
// browser), all refused; from the trusted origin, the same origin, with
// Sec-Fetch-Site none and without either header, all passed on. GET and HEAD
// pass from anywhere.
func protectionRequestCases() (cases []struct {
	name, method string
	header       []string
	reach        bool
}) {
	add := func(name, method string, reach bool, header ...string) {
		cases = append(cases, struct {
			name, method string
			header       []string
			reach        bool
		}{name, method, header, reach})
	}
	self := "http://" + protectedSite + ":9080"
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		add("untrusted-cross-site", m, false, "Origin", untrustedOrigin, "Sec-Fetch-Site", "cross-site")
		add("sibling-same-site", m, false, "Origin", siblingOrigin, "Sec-Fetch-Site", "same-site")
		add("foreign-origin-no-sec-fetch-site", m, false, "Origin", untrustedOrigin)
		add("untrusted-cross-site-with-cookie", m, false, "Origin", untrustedOrigin, "Sec-Fetch-Site", "cross-site", "Cookie", "session=1")
		add("trusted-cross-site", m, true, "Origin", trustedOrigin, "Sec-Fetch-Site", "same-site", "Cookie", "session=1")
		add("trusted-no-sec-fetch-site", m, true, "Origin", trustedOrigin)
		add("same-origin", m, true, "Origin", self, "Sec-Fetch-Site", "same-origin")
		add("same-origin-no-sec-fetch-site", m, true, "Origin", self)
		add("sec-fetch-site-none", m, true, "Sec-Fetch-Site", "none")
		add("no-origin-no-sec-fetch-site", m, true)
	}
	for _, m := range []string{"GET", "HEAD"} {
		add("untrusted-cross-site", m, true, "Origin", untrustedOrigin, "Sec-Fetch-Site", "cross-site")
		add("sibling-same-site", m, true, "Origin", siblingOrigin, "Sec-Fetch-Site", "same-site")
		add("foreign-origin-no-sec-fetch-site", m, true, "Origin", untrustedOrigin)
		add("trusted-cross-site", m, true, "Origin", trustedOrigin, "Sec-Fetch-Site", "same-site")
	}
	return cases
}

func TestIntegrationCrossOriginProtection(t *testing.T) {
	backend := newRecordingBackend(t)
	tester := caddytest.NewTester(t)
	loadConfig(t, tester, protectionConfig(strings.TrimPrefix(backend.URL, "http://")), "caddyfile")
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dialLoopback}}
	defer client.CloseIdleConnections()
	// The previous test's servers may still be handing over to these.
	for range 50 {
		resp, err := client.Get("http://" + protectedSite + ":9080/metrics")
		if err == nil {
			resp.Body.Close()
			break
		}
		time.Sleep(100 * time.Millisecond)
	}

	writes := 0
	for _, tc := range protectionRequestCases() {
		t.Run(tc.method+"/"+tc.name, func(t *testing.T) {
			path := "/items/" + tc.name
			req, err := http.NewRequest(tc.method, "http://"+protectedSite+":9080"+path, strings.NewReader("a=1"))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for i := 0; i+1 < len(tc.header); i += 2 {
				req.Header.Add(tc.header[i], tc.header[i+1])
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if got := backend.reached(tc.method, path); got != tc.reach {
				t.Errorf("reached the backend: %v, want %v (answer %d %q)", got, tc.reach, resp.StatusCode, body)
			}
			switch {
			case tc.reach && resp.StatusCode != http.StatusOK:
				t.Errorf("status %d %q, want 200 from the backend", resp.StatusCode, body)
			case !tc.reach && (resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "cross-origin request")):
				t.Errorf("status %d %q, want 403 from cross-origin protection", resp.StatusCode, body)
			}
			if !tc.reach {
				writes++
			}
		})
	}

	for _, tc := range handshakeCases("http://" + protectedSite + ":9080") {
		t.Run("websocket-http1.1/"+tc.name, func(t *testing.T) {
			path := "/ws/" + tc.name
			status, echoed, err := webSocketHTTP1(protectedSite+":9080", "127.0.0.1:9080", path, tc.header)
			if err != nil {
				t.Fatal(err)
			}
			checkHandshake(t, backend, path, tc.echo, status, http.StatusSwitchingProtocols, echoed)
		})
	}

	resp, err := client.Get("http://" + protectedSite + ":9080/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assertMetrics(t, string(metrics), "caddy_http_cors_",
		fmt.Sprintf(`caddy_http_cors_decisions_total{kind="write",result="origin"} %d`, writes),
		`caddy_http_cors_decisions_total{kind="websocket",result="origin"} 3`,
	)
}

// handshakeCases are the WebSocket handshakes of the proof, to a site whose
// own origin is self: three from origins the policy does not trust, refused;
// one trusted, one same-origin and one without Origin, proxied and echoing.
func handshakeCases(self string) []struct {
	name   string
	header []string
	echo   bool
} {
	return []struct {
		name   string
		header []string
		echo   bool
	}{
		{"untrusted-cross-site", []string{"Origin", untrustedOrigin, "Sec-Fetch-Site", "cross-site"}, false},
		{"sibling-same-site", []string{"Origin", siblingOrigin, "Sec-Fetch-Site", "same-site"}, false},
		{"foreign-origin-no-sec-fetch-site", []string{"Origin", untrustedOrigin}, false},
		{"trusted", []string{"Origin", trustedOrigin, "Sec-Fetch-Site", "same-site"}, true},
		{"same-origin", []string{"Origin", self, "Sec-Fetch-Site", "same-origin"}, true},
		{"no-origin", nil, true},
	}
}

// checkHandshake judges one handshake: refused ones never reach the
// backend; accepted ones are proxied and echo.
func checkHandshake(t *testing.T, backend *recordingBackend, path string, wantEcho bool, status, okStatus int, echoed string) {
	t.Helper()
	reached := backend.reached("GET", path)
	if wantEcho {
		if status != okStatus || echoed != "hello "+path || !reached {
			t.Errorf("status %d, echoed %q, reached %v: want %d, the message back, reached", status, echoed, reached, okStatus)
		}
		return
	}
	if status != http.StatusForbidden || reached {
		t.Errorf("status %d, reached %v: want 403, never reaching the backend", status, reached)
	}
}

// webSocketHTTP1 opens a WebSocket over HTTP/1.1 to host at addr, sends one
// message and returns the handshake's status and the message echoed.
func webSocketHTTP1(host, addr, path string, header []string) (status int, echoed string, err error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", path, host)
	b.WriteString("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n")
	for i := 0; i+1 < len(header); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", header[i], header[i+1])
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return 0, "", err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, "", err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		resp.Body.Close()
		return resp.StatusCode, "", nil
	}
	echoed, err = echoOnce(conn, br, "hello "+path)
	return resp.StatusCode, echoed, err
}

// echoOnce sends msg in a masked text frame, as a client must, and reads
// one frame back. Messages stay under 126 bytes: one length byte.
func echoOnce(w io.Writer, r io.Reader, msg string) (string, error) {
	mask := [4]byte{0x12, 0x34, 0x56, 0x78}
	frame := append([]byte{0x81, 0x80 | byte(len(msg))}, mask[:]...)
	for i := range len(msg) {
		frame = append(frame, msg[i]^mask[i%4])
	}
	if _, err := w.Write(frame); err != nil {
		return "", err
	}
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return "", err
	}
	if h[1]&0x80 != 0 || h[1]&0x7f >= 126 {
		return "", errors.New("unexpected frame from the server")
	}
	payload := make([]byte, h[1]&0x7f)
	if _, err := io.ReadFull(r, payload); err != nil {
		return "", err
	}
	return string(payload), nil
}

// extendedConnectChildEnv marks the process that
// TestIntegrationCrossOriginProtectionExtendedConnect runs itself in.
const extendedConnectChildEnv = "CORS_TEST_EXTENDED_CONNECT_CHILD"

// TestIntegrationCrossOriginProtectionExtendedConnect sends WebSocket
// handshakes over HTTP/2 and HTTP/3 extended CONNECT (RFC 8441, RFC 9220).
//
// Caddy v2.11.9 proxies both, but its HTTP/2 server is golang.org/x/net's,
// which advertises SETTINGS_ENABLE_CONNECT_PROTOCOL only when the process
// starts with GODEBUG=http2xconnect=1 (read once, at init; off by default
// since Go 1.24, golang/go#71128), so browsers use HTTP/1.1 for WebSockets
// to a default Caddy. The test therefore runs in a child process of the
// test binary started with that setting. The child uses ports of its own
// (admin 2998, HTTP 9180, HTTP/2 and HTTP/3 9543), since this process may
// already hold caddytest's, and it starts Caddy in a helper, out of sight of
// TestMain's check of caddytest's ports. HTTP/3 needs no setting: quic-go
// always advertises extended CONNECT.
func TestIntegrationCrossOriginProtectionExtendedConnect(t *testing.T) {
	if os.Getenv(extendedConnectChildEnv) == "" {
		if testing.Short() {
			t.Skip("starts Caddy")
		}
		exe, err := os.Executable() // os.Args[0] is "caddy" once caddytest ran Caddy here
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, exe, "-test.run=^TestIntegrationCrossOriginProtectionExtendedConnect$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), extendedConnectChildEnv+"=1", "GODEBUG="+strings.TrimPrefix(os.Getenv("GODEBUG")+",http2xconnect=1", ","))
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestIntegrationCrossOriginProtectionExtendedConnect") {
			t.Fatalf("child test failed: %v\n%s", err, childSummary(out))
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "--- ") {
				t.Log(strings.TrimSpace(line))
			}
		}
		return
	}
	runExtendedConnectChild(t)
}

// childSummary keeps the test's own lines of the child's output, not
// Caddy's logs.
func childSummary(out []byte) string {
	var keep []string
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.Contains(line, "\t{") && !strings.Contains(line, `"level"`) {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

func runExtendedConnectChild(t *testing.T) {
	backend := newRecordingBackend(t)
	tester := caddytest.NewTester(t).WithDefaultOverrides(caddytest.Config{AdminPort: 2998})
	tester.InitServer(fmt.Sprintf(`{
	skip_install_trust
	admin localhost:2998
	persist_config off
	storage_check off
	storage_clean_interval off
	http_port 9180
	https_port 9543
	grace_period 1ns
	auto_https disable_redirects
	servers :9543 {
		protocols h1 h2 h3
	}
}

https://%s:9543 {
	tls internal
	%s
	reverse_proxy %s
}
`, protectedSite, protectionPolicy, strings.TrimPrefix(backend.URL, "http://")), "caddyfile")

	tlsConfig := &tls.Config{ServerName: protectedSite, InsecureSkipVerify: true} //nolint:gosec // tls internal on loopback
	clients := map[string]*http.Client{
		// net/http's own client refuses a ":protocol" header field before
		// it reaches its HTTP/2 code; golang.org/x/net/http2's sends it.
		"http2": {Transport: &http2.Transport{TLSClientConfig: tlsConfig,
			DialTLSContext: func(ctx context.Context, network, addr string, cfg *tls.Config) (net.Conn, error) {
				_, port, _ := net.SplitHostPort(addr)
				d := tls.Dialer{Config: cfg}
				return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
			}}},
		"http3": {Transport: &http3.Transport{TLSClientConfig: tlsConfig,
			Dial: func(ctx context.Context, addr string, tlsCfg *tls.Config, cfg *quic.Config) (*quic.Conn, error) {
				_, port, _ := net.SplitHostPort(addr)
				return quic.DialAddrEarly(ctx, net.JoinHostPort("127.0.0.1", port), tlsCfg, cfg)
			}}},
	}
	// tls internal issues the certificate while the config starts.
	for range 50 {
		resp, err := clients["http2"].Get("https://" + protectedSite + ":9543/ready")
		if err == nil {
			resp.Body.Close()
			break
		}
		time.Sleep(100 * time.Millisecond)
	}

	self := "https://" + protectedSite + ":9543"
	for _, proto := range []string{"http2", "http3"} {
		for _, tc := range handshakeCases(self) {
			t.Run(proto+"/"+tc.name, func(t *testing.T) {
				path := "/ws/" + proto + "/" + tc.name
				status, echoed, err := webSocketExtendedConnect(clients[proto], proto, self+path, tc.header)
				if err != nil {
					t.Fatal(err)
				}
				checkHandshake(t, backend, path, tc.echo, status, http.StatusOK, echoed)
			})
		}
	}
}

// webSocketExtendedConnect opens a WebSocket with an extended CONNECT:
// x/net's HTTP/2 client sends one for a CONNECT with a :protocol header,
// quic-go's HTTP/3 client for a CONNECT whose Proto is the protocol.
func webSocketExtendedConnect(client *http.Client, proto, url string, header []string) (status int, echoed string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pr, pw := io.Pipe()
	defer pw.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodConnect, url, pr)
	if err != nil {
		return 0, "", err
	}
	if proto == "http2" {
		req.Header.Set(":protocol", "websocket")
	} else {
		req.Proto = "websocket"
	}
	req.Header.Set("Sec-WebSocket-Version", "13")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, "", nil
	}
	echoed, err = echoOnce(pw, resp.Body, "hello "+req.URL.Path)
	return resp.StatusCode, echoed, err
}

// TestIntegrationCrossOriginProtectionReportOnly pins that, with
// report_only, what the protection would refuse reaches the backend and is
// counted instead.
func TestIntegrationCrossOriginProtectionReportOnly(t *testing.T) {
	backend := newRecordingBackend(t)
	tester := caddytest.NewTester(t)
	loadConfig(t, tester, strings.Replace(protectionConfig(strings.TrimPrefix(backend.URL, "http://")),
		"cross_origin_protection", "cross_origin_protection\n\t\treport_only", 1), "caddyfile")
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dialLoopback}}
	defer client.CloseIdleConnections()
	site := "http://" + protectedSite + ":9080"
	for range 50 {
		resp, err := client.Get(site + "/metrics")
		if err == nil {
			resp.Body.Close()
			break
		}
		time.Sleep(100 * time.Millisecond)
	}

	req, _ := http.NewRequest("DELETE", site+"/items/report-only", nil)
	req.Header.Set("Origin", untrustedOrigin)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !backend.reached("DELETE", "/items/report-only") {
		t.Errorf("status %d, reached %v: want the backend's 200", resp.StatusCode, backend.reached("DELETE", "/items/report-only"))
	}
	status, echoed, err := webSocketHTTP1(protectedSite+":9080", "127.0.0.1:9080", "/ws/report-only", []string{"Origin", untrustedOrigin})
	if err != nil || status != http.StatusSwitchingProtocols || echoed != "hello /ws/report-only" {
		t.Errorf("WebSocket: status %d, echoed %q, %v: want it proxied", status, echoed, err)
	}

	resp, err = client.Get(site + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assertMetrics(t, string(metrics), "caddy_http_cors_",
		`caddy_http_cors_report_only_total{difference="refusal",kind="write"} 1`,
		`caddy_http_cors_report_only_total{difference="refusal",kind="websocket"} 1`,
	)
}
