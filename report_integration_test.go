package cors

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
)

// The report-only tests put a real Caddy in front of an application that
// does its own CORS, as a team moving CORS into Caddy has, and check what
// report-only mode logs and counts, and that it changes no byte.

// application answers CORS itself, the way framework middleware does. Its
// paths choose how its policy relates to the one tried in Caddy:
//
//	/looser/   any origin, with credentials, any header, DELETE, a day's
//	           max-age and a debug header exposed (Express's cors({origin:
//	           true, credentials: true}) with a few options)
//	/stricter/ only https://app.example.com, without credentials, GET and POST
//	/star/     Access-Control-Allow-Origin: * with credentials
//	/twice/    two Access-Control-Allow-Origin lines
//	/novary/   reflects the origin, with credentials, without Vary: Origin
//	/same/     exactly what the policy tried in Caddy sends
func application(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	origin := r.Header.Get("Origin")
	preflight := r.Method == "OPTIONS" && r.Header.Get("Access-Control-Request-Method") != ""
	path := r.URL.Path
	switch {
	case origin == "":
	case strings.HasPrefix(path, "/looser/"):
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Vary", "Origin")
		if preflight {
			h.Set("Access-Control-Allow-Methods", "GET,HEAD,PUT,PATCH,POST,DELETE")
			h.Set("Access-Control-Allow-Headers", r.Header.Get("Access-Control-Request-Headers"))
			h.Set("Access-Control-Max-Age", "86400")
		} else {
			h.Set("Access-Control-Expose-Headers", "X-Total, X-Debug")
		}
	case strings.HasPrefix(path, "/stricter/"):
		if origin == "https://app.example.com" {
			h.Set("Access-Control-Allow-Origin", origin)
		}
		h.Set("Vary", "Origin")
		if preflight {
			h.Set("Access-Control-Allow-Methods", "GET, POST")
		}
	case strings.HasPrefix(path, "/star/"):
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Credentials", "true")
	case strings.HasPrefix(path, "/twice/"):
		h.Add("Access-Control-Allow-Origin", origin)
		h.Add("Access-Control-Allow-Origin", "*")
	case strings.HasPrefix(path, "/novary/"):
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Expose-Headers", "X-Total")
	case strings.HasPrefix(path, "/same/"):
		if origin == "https://app.example.com" {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Vary", "Origin")
			if preflight {
				h.Set("Access-Control-Allow-Methods", "GET, POST, PUT")
				h.Set("Access-Control-Allow-Headers", "Content-Type, X-Token")
				h.Set("Access-Control-Max-Age", "600")
			} else {
				h.Set("Access-Control-Expose-Headers", "X-Total")
			}
		}
	}
	if preflight {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	h.Set("X-Total", "42")
	h.Set("X-Debug", "on")
	h.Set("Content-Type", "application/json")
	fmt.Fprintf(w, "{\"path\": %q}\n", path)
}

// triedPolicy is the policy a team tries in report-only mode in front of
// the application.
const triedPolicy = `cors https://app.example.com {
			methods GET POST PUT
			allowed_headers Content-Type X-Token
			exposed_headers X-Total
			allow_credentials
			max_age 10m
			report_only
		}`

// reportGlobals are caddyGlobals with the cors handler's warn lines going to
// logFile, as JSON.
func reportGlobals(logFile string) string {
	return strings.Replace(caddyGlobals, "\tgrace_period 1ns\n", fmt.Sprintf(`	grace_period 1ns
	log report {
		output file %s
		format json
		level WARN
		include http.handlers.cors
	}
`, logFile), 1)
}

// reportOnlyConfig serves the application through Caddy twice: on
// localhost:9080 behind `cors` with block, and on 127.0.0.1:9080 without
// it, so each request can be sent both ways. Caddy's warn lines of the
// cors handler go to logFile as JSON.
func reportOnlyConfig(backend, logFile, block string) string {
	return reportGlobals(logFile) + fmt.Sprintf(`
http://localhost:9080 {
	handle /metrics {
		metrics
	}
	handle {
		%s
		reverse_proxy %s
	}
}

http://127.0.0.1:9080 {
	reverse_proxy %s
}
`, block, backend, backend)
}

// rawExchange sends one HTTP/1.1 request to host on port 9080 and returns
// the response's bytes as they came off the wire, without the Date line
// (the only one that may change between two sends).
func rawExchange(t *testing.T, host, method, path string, header ...string) []byte {
	t.Helper()
	var req bytes.Buffer
	fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: %s:9080\r\nConnection: close\r\n", method, path, host)
	for i := 0; i+1 < len(header); i += 2 {
		fmt.Fprintf(&req, "%s: %s\r\n", header[i], header[i+1])
	}
	req.WriteString("\r\n")
	resp, err := exchange(req.Bytes())
	if err != nil || len(resp) == 0 {
		t.Fatalf("%s %s: no answer (%v)", method, path, err)
	}
	return regexp.MustCompile(`(?m)^Date: .*\r\n`).ReplaceAll(resp, nil)
}

// exchange sends req on a connection of its own and reads the answer.
func exchange(req []byte) ([]byte, error) {
	conn, err := net.DialTimeout("tcp", "127.0.0.1:9080", 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(req); err != nil {
		return nil, err
	}
	return io.ReadAll(conn)
}

// reportLines reads the cors handler's log lines from file, each without
// the fields that change from run to run.
func reportLines(t *testing.T, file string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		lines = append(lines, stableLogLine(t, sc.Bytes()))
	}
	return lines
}

// stableLogLine drops the time stamp of a JSON log line and keeps the order
// in which Caddy wrote the other fields.
func stableLogLine(t *testing.T, line []byte) string {
	t.Helper()
	var fields map[string]any
	if err := json.Unmarshal(line, &fields); err != nil {
		t.Fatalf("log line %s: %v", line, err)
	}
	return regexp.MustCompile(`"ts":[0-9.e+]+,`).ReplaceAllString(string(line), "")
}

type reportCase struct {
	name         string
	method, path string
	header       []string
	want         string // the log line, "" for none
}

const (
	app     = "https://app.example.com"
	partner = "https://partner.example.com"
)

func preflightOf(origin, method string, headers ...string) []string {
	h := []string{"Origin", origin, "Access-Control-Request-Method", method}
	if len(headers) > 0 {
		h = append(h, "Access-Control-Request-Headers", strings.Join(headers, ","))
	}
	return h
}

func warnLine(fields string) string {
	return `{"level":"warn","logger":"http.handlers.cors","msg":"cors report-only: response differs from policy",` + fields + `}`
}

// reportCases are the requests of the report-only tests, with the line each
// logs. Each line is logged once a minute per (kind, origin, difference):
// the repeated requests below are counted but not logged again.
var reportCases = []reportCase{
	{"LooserGrantsAPartner", "GET", "/looser/orders", []string{"Origin", partner},
		warnLine(`"kind":"actual","origin":"https://partner.example.com","difference":"grant","response":"grants with credentials (Access-Control-Allow-Origin: https://partner.example.com, Access-Control-Allow-Credentials: true)","policy":"refuses: origin not allowed"`)},
	{"LooserGrantsThePartnerAgain", "GET", "/looser/orders", []string{"Origin", partner}, ""},
	{"LooserPreflightGrantsAPartner", "OPTIONS", "/looser/orders", preflightOf(partner, "PUT"),
		warnLine(`"kind":"preflight","origin":"https://partner.example.com","difference":"grant","response":"grants with credentials (Access-Control-Allow-Origin: https://partner.example.com, Access-Control-Allow-Credentials: true)","policy":"refuses: origin not allowed"`)},
	{"LooserAllowsDelete", "OPTIONS", "/looser/orders/7", preflightOf(app, "DELETE"),
		warnLine(`"kind":"preflight","origin":"https://app.example.com","difference":"methods","method":"DELETE","response":"allows method DELETE (Access-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE)","policy":"refuses method DELETE (Access-Control-Allow-Methods: GET, POST, PUT)"`)},
	{"LooserAllowsAnotherHeader", "OPTIONS", "/looser/orders", preflightOf(app, "PUT", "x-request-id"),
		warnLine(`"kind":"preflight","origin":"https://app.example.com","difference":"headers","header":"x-request-id","response":"allows header x-request-id (Access-Control-Allow-Headers: x-request-id)","policy":"refuses header x-request-id (Access-Control-Allow-Headers: Content-Type, X-Token)"`)},
	{"LooserCachesLonger", "OPTIONS", "/looser/orders", preflightOf(app, "PUT", "x-token"),
		warnLine(`"kind":"preflight","origin":"https://app.example.com","difference":"max_age","response":"lets browsers cache the preflight 86400 s (Access-Control-Max-Age: 86400)","policy":"lets browsers cache the preflight 600 s (Access-Control-Max-Age: 600)"`)},
	{"LooserExposesMore", "GET", "/looser/orders", []string{"Origin", app},
		warnLine(`"kind":"actual","origin":"https://app.example.com","difference":"exposed","response_header":"X-Debug","response":"exposes X-Debug (Access-Control-Expose-Headers: X-Total, X-Debug)","policy":"hides X-Debug (Access-Control-Expose-Headers: X-Total)"`)},
	{"StricterWithoutCredentials", "GET", "/stricter/orders", []string{"Origin", app},
		warnLine(`"kind":"actual","origin":"https://app.example.com","difference":"credentials","response":"grants (Access-Control-Allow-Origin: https://app.example.com)","policy":"grants with credentials (Access-Control-Allow-Origin: https://app.example.com, Access-Control-Allow-Credentials: true)"`)},
	{"StricterRefusesThePartnerToo", "OPTIONS", "/stricter/orders", preflightOf(partner, "PUT"), ""}, // both refuse the partner
	{"StricterPreflightWithoutCredentials", "OPTIONS", "/stricter/orders", preflightOf(app, "PUT"),
		warnLine(`"kind":"preflight","origin":"https://app.example.com","difference":"credentials","response":"grants (Access-Control-Allow-Origin: https://app.example.com)","policy":"grants with credentials (Access-Control-Allow-Origin: https://app.example.com, Access-Control-Allow-Credentials: true)"`)},
	{"StarWithCredentials", "GET", "/star/", []string{"Origin", app},
		warnLine(`"kind":"actual","origin":"https://app.example.com","difference":"invalid","response":"is invalid (Access-Control-Allow-Origin: *, Access-Control-Allow-Credentials: true)","policy":"grants with credentials (Access-Control-Allow-Origin: https://app.example.com, Access-Control-Allow-Credentials: true)"`)},
	{"TwoOrigins", "GET", "/twice/", []string{"Origin", partner},
		warnLine(`"kind":"actual","origin":"https://partner.example.com","difference":"invalid","response":"is invalid (Access-Control-Allow-Origin: https://partner.example.com, *)","policy":"refuses: origin not allowed"`)},
	{"NoVary", "GET", "/novary/", []string{"Origin", app},
		warnLine(`"kind":"actual","origin":"https://app.example.com","difference":"vary","response":"grants one origin without Vary: Origin, so a shared cache may serve it to another (Access-Control-Allow-Origin: https://app.example.com)","policy":"grants with Vary: Origin (Access-Control-Allow-Origin: https://app.example.com)"`)},
	{"SameActual", "GET", "/same/orders", []string{"Origin", app}, ""},
	{"SamePreflight", "OPTIONS", "/same/orders", preflightOf(app, "PUT", "content-type", "x-token"), ""},
	{"SameRefusal", "GET", "/same/orders", []string{"Origin", partner}, ""},
	{"NoOrigin", "GET", "/looser/orders", nil, ""},
}

// TestIntegrationReportOnly runs the report-only cases through a real Caddy
// in front of the application and checks the exact log lines, the counters,
// and that every response is byte for byte the one Caddy sends without the
// cors directive.
func TestIntegrationReportOnly(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(application))
	defer backend.Close()
	logFile := filepath.Join(t.TempDir(), "cors.log")
	tester := caddytest.NewTester(t)
	loadConfig(t, tester, reportOnlyConfig(backend.Listener.Addr().String(), logFile, triedPolicy), "caddyfile")

	var want []string
	for _, tc := range reportCases {
		with := rawExchange(t, "localhost", tc.method, tc.path, tc.header...)
		without := rawExchange(t, "127.0.0.1", tc.method, tc.path, tc.header...)
		if !bytes.Equal(with, without) {
			t.Errorf("%s: report-only changed the response:\n%s\nwithout cors:\n%s", tc.name, with, without)
		}
		if tc.want != "" {
			want = append(want, tc.want)
		}
	}
	got := waitForLines(t, logFile, len(want))
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			t.Errorf("missing log line:\n%s", want[i])
		case i >= len(want):
			t.Errorf("unexpected log line:\n%s", got[i])
		case got[i] != want[i]:
			t.Errorf("log line %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}

	_, body := request(t, tester, "GET", "/metrics")
	var counters []string
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "caddy_http_cors_report_only_total{") && !strings.HasSuffix(line, " 0") {
			counters = append(counters, line)
		}
	}
	wantCounters := []string{
		`caddy_http_cors_report_only_total{difference="credentials",kind="actual"} 1`,
		`caddy_http_cors_report_only_total{difference="credentials",kind="preflight"} 1`,
		`caddy_http_cors_report_only_total{difference="exposed",kind="actual"} 1`,
		`caddy_http_cors_report_only_total{difference="grant",kind="actual"} 2`,
		`caddy_http_cors_report_only_total{difference="grant",kind="preflight"} 1`,
		`caddy_http_cors_report_only_total{difference="headers",kind="preflight"} 1`,
		`caddy_http_cors_report_only_total{difference="invalid",kind="actual"} 2`,
		`caddy_http_cors_report_only_total{difference="max_age",kind="preflight"} 1`,
		`caddy_http_cors_report_only_total{difference="methods",kind="preflight"} 1`,
		`caddy_http_cors_report_only_total{difference="vary",kind="actual"} 1`,
	}
	if !slices.Equal(counters, wantCounters) {
		t.Errorf("counters:\n%s\nwant:\n%s", strings.Join(counters, "\n"), strings.Join(wantCounters, "\n"))
	}
}

// waitForLines reads the log file until it holds n lines, or a little
// longer than Caddy needs to write them.
func waitForLines(t *testing.T, file string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		lines := reportLines(t, file)
		if len(lines) >= n || time.Now().After(deadline) {
			time.Sleep(50 * time.Millisecond) // and no line more
			return reportLines(t, file)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fixedPolicy is triedPolicy after the lines of the looser application were
// read: the partner, DELETE, X-Request-Id, a day's max-age and X-Debug were
// all in use, so the policy allows them.
const fixedPolicy = `cors https://app.example.com https://partner.example.com {
			methods GET POST PUT DELETE
			allowed_headers Content-Type X-Token X-Request-Id
			exposed_headers X-Total X-Debug
			allow_credentials
			max_age 24h
			report_only
		}`

// TestIntegrationReportOnlyMigration is the migration the README describes,
// against the looser application: the fixed policy logs nothing where the
// tried one logged, and once report_only is dropped, every answer the module
// sends is one a browser judges exactly as it judged the application's.
func TestIntegrationReportOnlyMigration(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(application))
	defer backend.Close()
	var looser []reportCase
	for _, tc := range reportCases {
		if strings.HasPrefix(tc.path, "/looser/") {
			looser = append(looser, tc)
		}
	}
	logFile := filepath.Join(t.TempDir(), "cors.log")
	tester := caddytest.NewTester(t)
	loadConfig(t, tester, reportOnlyConfig(backend.Listener.Addr().String(), logFile, fixedPolicy), "caddyfile")
	before := make([]*http.Response, len(looser))
	for i, tc := range looser {
		before[i] = rawResponse(t, rawExchange(t, "127.0.0.1", tc.method, tc.path, tc.header...))
		rawExchange(t, "localhost", tc.method, tc.path, tc.header...)
	}
	if lines := waitForLines(t, logFile, 1); len(lines) > 0 {
		t.Errorf("the fixed policy still differs:\n%s", strings.Join(lines, "\n"))
	}

	enforced := strings.Replace(fixedPolicy, "\n\t\t\treport_only", "", 1)
	loadConfig(t, tester, reportOnlyConfig(backend.Listener.Addr().String(), logFile, enforced), "caddyfile")
	for i, tc := range looser {
		after := rawResponse(t, rawExchange(t, "localhost", tc.method, tc.path, tc.header...))
		q := &question{kind: kindActual}
		if len(tc.header) > 1 {
			q.origin = tc.header[1]
		}
		if tc.method == "OPTIONS" {
			q.kind, q.method = kindPreflight, tc.header[3]
			if len(tc.header) > 5 {
				q.headers = tc.header[5:6]
			}
		}
		app, mod := viewOf(before[i].Header), viewOf(after.Header)
		app.ok = before[i].StatusCode/100 == 2
		mod.ok = after.StatusCode/100 == 2
		if f := judge(&app, &mod, q, before[i].Header); f.diff != diffNone {
			t.Errorf("%s: after the switch-over a browser judges the answer otherwise (%v %s):\napplication %v\nmodule      %v",
				tc.name, f.diff, f.detail, before[i].Header, after.Header)
		}
	}
}

// rawResponse parses the bytes rawExchange returned.
func rawResponse(t *testing.T, raw []byte) *http.Response {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// TestReadmeMigrationIsTheTestedOne pins the README's migration section to
// these tests: its policies are triedPolicy and fixedPolicy, and each of its
// log lines, but for the time stamp, is one TestIntegrationReportOnly
// requires of a real Caddy.
func TestReadmeMigrationIsTheTestedOne(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	section := readme[strings.Index(readme, "## Migrating from application CORS"):]
	section = section[:strings.Index(section, "\n## ")]
	dedent := func(s string) string { return regexp.MustCompile(`(?m)^[ \t]+`).ReplaceAllString(s, "") }
	for name, policy := range map[string]string{"triedPolicy": triedPolicy, "fixedPolicy": fixedPolicy} {
		if !strings.Contains(dedent(section), dedent(policy)) {
			t.Errorf("the README's migration section does not show %s:\n%s", name, policy)
		}
	}
	var wants []string
	for _, tc := range reportCases {
		wants = append(wants, tc.want)
	}
	n := 0
	for _, line := range strings.Split(section, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, `{"level":"warn"`) {
			continue
		}
		n++
		if got := stableLogLine(t, []byte(line)); !slices.Contains(wants, got) {
			t.Errorf("the README shows a log line no test produces:\n%s", got)
		}
	}
	if n == 0 {
		t.Error("the README's migration section shows no log line")
	}
}

// TestIntegrationReportOnlyAbandonedRequests puts report-only mode in front
// of a slow application that grants exactly what the policy would, and
// has clients hang up before it answers: one client, then a load test
// stopped with every request in flight. reverse_proxy records each abandoned
// request as a 499 through the module's writer; none of them is an answer a
// client received, so none may be logged or counted as a refusal. A last
// request that waits for its answer from a path where the application sends
// no CORS headers shows the log and the counters are live.
func TestIntegrationReportOnlyAbandonedRequests(t *testing.T) {
	arrived := make(chan struct{}, 64)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/slow/") {
			arrived <- struct{}{}
			select {
			case <-r.Context().Done(): // Caddy gave up: its client did
			case <-time.After(10 * time.Second):
			}
		}
		if r.Header.Get("Origin") == app && !strings.HasPrefix(r.URL.Path, "/refuses/") {
			w.Header().Set("Access-Control-Allow-Origin", app)
			w.Header().Set("Access-Control-Allow-Credentials", "true")
			w.Header().Set("Vary", "Origin")
		}
		fmt.Fprintln(w, "ok")
	}))
	defer backend.Close()
	dir := t.TempDir()
	corsLog, accessLog := filepath.Join(dir, "cors.log"), filepath.Join(dir, "access.log")
	tester := caddytest.NewTester(t)
	loadConfig(t, tester, reportGlobals(corsLog)+fmt.Sprintf(`
http://localhost:9080 {
	log {
		output file %s
		format json
	}
	handle /metrics {
		metrics
	}
	handle {
		cors https://app.example.com {
			allow_credentials
			report_only
		}
		reverse_proxy %s
	}
}
`, accessLog, backend.Listener.Addr()), "caddyfile")

	// hangUp sends n requests at once, each on a connection of its own, and
	// closes them all once the application has every one of them.
	hangUp := func(n int) {
		t.Helper()
		conns := make([]net.Conn, n)
		for i := range conns {
			conn, err := net.DialTimeout("tcp", "127.0.0.1:9080", 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			conns[i] = conn
			fmt.Fprintf(conn, "GET /slow/%d HTTP/1.1\r\nHost: localhost:9080\r\nOrigin: %s\r\n\r\n", i, app)
		}
		for range n {
			select {
			case <-arrived:
			case <-time.After(10 * time.Second):
				t.Fatal("the requests did not all reach the application")
			}
		}
		for _, conn := range conns {
			conn.Close()
		}
	}
	abandoned := 0
	for _, n := range []int{1, 40} {
		hangUp(n)
		abandoned += n
		// Caddy logs each request once it is done with it: after the
		// module has seen its answer.
		waitForAccessLines(t, accessLog, `"status":499`, abandoned)
		if lines := reportLines(t, corsLog); len(lines) > 0 {
			t.Errorf("after %d abandoned requests, report-only logged:\n%s", abandoned, strings.Join(lines, "\n"))
		}
	}

	resp, _ := request(t, tester, "GET", "/refuses/", "Origin", app)
	wantStatus(t, resp, 200)
	want := warnLine(`"kind":"actual","origin":"https://app.example.com","difference":"refusal","response":"refuses: no Access-Control-Allow-Origin","policy":"grants with credentials (Access-Control-Allow-Origin: https://app.example.com, Access-Control-Allow-Credentials: true)"`)
	if lines := reportLines(t, corsLog); len(lines) != 1 || lines[0] != want {
		t.Errorf("a refusal the client received: logged\n%s\nwant\n%s", strings.Join(lines, "\n"), want)
	}
	_, body := request(t, tester, "GET", "/metrics")
	var counters []string
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "caddy_http_cors_report_only_total{") && !strings.HasSuffix(line, " 0") {
			counters = append(counters, line)
		}
	}
	if wantCounters := []string{`caddy_http_cors_report_only_total{difference="refusal",kind="actual"} 1`}; !slices.Equal(counters, wantCounters) {
		t.Errorf("counters:\n%s\nwant:\n%s", strings.Join(counters, "\n"), strings.Join(wantCounters, "\n"))
	}
}

// waitForAccessLines waits until the access log holds n lines containing
// match, failing after 10 s.
func waitForAccessLines(t *testing.T, file, match string, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		data, _ := os.ReadFile(file)
		got := bytes.Count(data, []byte(match))
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the access log holds %d lines with %s after 10 s, want %d:\n%s", got, match, n, data)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
