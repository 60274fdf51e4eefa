package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	"golang.org/x/crypto/bcrypt"
)

// Package state, set up once by TestMain.
var (
	tmpDir     string // removed when the test binary ends
	pageRoot   string // the harness page files
	backendURL string // a net/http backend that sends its own CORS headers
	deadAddr   string // a loopback address where nothing listens
	authHash   string // bcrypt hash of authPassword, for basic_auth
)

const (
	authUser     = "alice"
	authPassword = "s3cret"
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "caddy-cors-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	tmpDir = tmp

	// Caddy keeps data and config under these: keep them out of $HOME.
	os.Setenv("XDG_DATA_HOME", filepath.Join(tmp, "data"))
	os.Setenv("XDG_CONFIG_HOME", filepath.Join(tmp, "config"))

	pageRoot = filepath.Join(tmp, "page")
	if err := os.MkdirAll(pageRoot, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for name, body := range map[string]string{"index.html": pageHTML, "sandboxed.html": pageHTML} {
		if err := os.WriteFile(filepath.Join(pageRoot, name), []byte(body), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}

	backend := httptest.NewServer(http.HandlerFunc(serveBackend))
	defer backend.Close()
	backendURL = backend.URL

	deadAddr = fmt.Sprintf("127.0.0.1:%d", freePort())

	hash, err := bcrypt.GenerateFromPassword([]byte(authPassword), bcrypt.MinCost)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	authHash = string(hash)

	// Caddy's default logger writes to os.Stderr as it is when a config
	// without its own default log loads or stops, which the harness does for
	// every scenario: point it at a file, so that a passing run prints no
	// Caddy line. Each scenario's own debug log is shown when it fails.
	stderr := os.Stderr
	caddyStderr, err := os.Create(filepath.Join(tmp, "caddy-stderr.log"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	os.Stderr = caddyStderr
	defer func() { os.Stderr = stderr }()
	// The logger Caddy made at start-up holds the real stderr: replace it
	// with one made now (same writer name, so Caddy says nothing about it).
	if err := caddy.Load([]byte(`{"admin":{"disabled":true,"config":{"persist":false}}}`), true); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}

	if os.Getenv("CI") == "" {
		// t.Skip messages show only with -v: say it once where it shows.
		for _, name := range engines {
			if install := missing(name); install != "" {
				fmt.Fprintf(stderr, "e2e: skipping %s, which is not installed: %s\n", name, install)
			}
		}
	}
	defer stopEngines()
	return m.Run()
}

// freePort returns a loopback port that was free a moment ago and that it
// never returned before: the kernel may hand out a port it just handed out,
// once its socket is closed, and two sites (or the dead upstream and a site)
// on one port would test something else. Ports the root package's caddytest
// tests (or the demo) use are never returned, as those tests may run at the
// same time in another process.
func freePort() int {
	portsMu.Lock()
	defer portsMu.Unlock()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		switch port {
		case 2999, 9080, 9443, 8080, 8081:
			continue
		}
		if portsGiven[port] {
			continue
		}
		portsGiven[port] = true
		return port
	}
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// serveBackend stands for an application behind reverse_proxy that already
// answers CORS itself, permissively, as many frameworks do by default.
func serveBackend(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/tenants/") {
		serveTenants(w, r)
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "*")
	h.Set("Access-Control-Allow-Headers", "*")
	h.Set("Access-Control-Expose-Headers", "X-Backend")
	h.Set("X-Backend", "yes")
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	fmt.Fprint(w, "from backend")
}

// tenants is the ask service of the origin source scenarios: a SaaS's
// tenant origins, by scenario (the db parameter, the scenario's API port).
var tenants sync.Map // db + " " + origin -> struct{}

// serveTenants answers an origin source's questions (/tenants/ask: 200 for
// a tenant's origin or the one the allow parameter names, else 404), and
// signs the requesting page's origin up (/tenants/signup).
func serveTenants(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch r.URL.Path {
	case "/tenants/ask":
		o := q.Get("origin")
		if _, ok := tenants.Load(q.Get("db") + " " + o); ok || o == q.Get("allow") {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusNotFound)
	case "/tenants/signup":
		tenants.Store(q.Get("db")+" "+r.Header.Get("Origin"), struct{}{})
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// pageHTML is the page the scripts run in. Its helpers turn what the
// browser let the script see into plain JSON.
const pageHTML = `<!doctype html>
<meta charset="utf-8">
<title>caddy-cors e2e</title>
<script>
// probe runs fetch and reports what the script can observe: a network error
// (the browser refused the CORS check) or the status, body and the response
// headers the browser lets it read.
async function probe(url, init) {
  try {
    const r = await fetch(url, init);
    const headers = {};
    for (const [k, v] of r.headers) headers[k] = v;
    return {ok: true, status: r.status, body: await r.text(), headers, redirected: r.redirected};
  } catch (e) {
    return {ok: false, error: String(e)};
  }
}

// xhr is probe for XMLHttpRequest. onUpload registers an upload progress
// listener, which makes the browser preflight even a safelisted request.
function xhr(method, url, {headers = {}, body = null, withCredentials = false, onUpload = false} = {}) {
  return new Promise(resolve => {
    const x = new XMLHttpRequest();
    x.open(method, url);
    x.withCredentials = withCredentials;
    for (const [k, v] of Object.entries(headers)) x.setRequestHeader(k, v);
    if (onUpload) x.upload.onprogress = () => {};
    x.onload = () => {
      const h = {};
      for (const line of x.getAllResponseHeaders().trim().split(/\r\n/)) {
        const i = line.indexOf(':');
        if (i > 0) h[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      resolve({ok: true, status: x.status, body: x.responseText, headers: h});
    };
    x.onerror = () => resolve({ok: false, error: 'XMLHttpRequest network error'});
    x.send(body);
  });
}

const sleep = ms => new Promise(r => setTimeout(r, ms));

// The harness opens the page as index.html#run=<script>. The page runs the
// script and writes its outcomes on one console line: every engine gives the
// harness the console, not every one gives it a way to evaluate.
addEventListener("load", async () => {
  if (!location.hash.startsWith("#run=")) return;
  const script = decodeURIComponent(location.hash.slice("#run=".length));
  let r;
  try {
    r = await new Function("return (async () => {\n" + script + "\n})()")();
  } catch (e) {
    r = {ok: false, error: "the script threw: " + e};
  }
  console.log("e2e-result " + JSON.stringify(Array.isArray(r) ? r : [r]));
});
</script>
<p>caddy-cors end-to-end harness</p>
`

// outcome is what a script observed for one request.
type outcome struct {
	OK         bool              `json:"ok"`
	Error      string            `json:"error,omitempty"`
	Status     int               `json:"status,omitempty"`
	Body       string            `json:"body,omitempty"`
	Headers    map[string]string `json:"headers,omitempty"`
	Redirected bool              `json:"redirected,omitempty"`
}

// want is what a script must observe for one request.
type want struct {
	blocked bool              // a network error: the browser refused the response
	status  int               // when not blocked
	body    string            // exact, when not empty
	headers map[string]string // readable, with these values
	hidden  []string          // not readable by the script
}

func (w want) check(got outcome) []string {
	var errs []string
	if w.blocked {
		if got.OK {
			errs = append(errs, fmt.Sprintf("the browser let the script read the response (status %d); want a network error", got.Status))
		}
		return errs
	}
	if !got.OK {
		return append(errs, fmt.Sprintf("network error %q; want status %d readable", got.Error, w.status))
	}
	if got.Status != w.status {
		errs = append(errs, fmt.Sprintf("status %d; want %d", got.Status, w.status))
	}
	if w.body != "" && got.Body != w.body {
		errs = append(errs, fmt.Sprintf("body %q; want %q", got.Body, w.body))
	}
	for k, v := range w.headers {
		if gv, ok := got.Headers[strings.ToLower(k)]; !ok {
			errs = append(errs, fmt.Sprintf("header %s not readable; want %q", k, v))
		} else if gv != v {
			errs = append(errs, fmt.Sprintf("header %s: %q; want %q", k, gv, v))
		}
	}
	for _, k := range w.hidden {
		if gv, ok := got.Headers[strings.ToLower(k)]; ok {
			errs = append(errs, fmt.Sprintf("header %s readable (%q); want it hidden", k, gv))
		}
	}
	return errs
}

// scenario is one behaviour proven in the browser: a Caddyfile for the API
// site, a script run on the page site, and what must come of it.
type scenario struct {
	name string

	// api holds the directives of the API site, a text/template over
	// siteVars. The harness adds the site address and the access log.
	api string

	// pageHost is the host of the page (default app.example.test); page is
	// the path loaded on it (default /index.html, or /sandboxed.html for an
	// opaque origin).
	pageHost, page string

	// js is the body of an async function run in the page. It sees the
	// constant API (the API site's origin) and the helpers of pageHTML,
	// and returns one outcome or an array of them.
	js string

	want []want

	// log lists "METHOD URI STATUS" for every request that reached the API
	// site, in order: preflights (OPTIONS) and actual requests alike.
	log []string
	// logFor replaces log for the engines it names, where an engine
	// legitimately sends other requests (its preflight cache, say): the
	// requests must follow one of the sequences listed.
	logFor map[string][][]string

	// console holds, per engine, a template over siteVars of a line the
	// engine must write to the console: the CORS error that names the refused
	// origin, method or header. Engines word it differently, so a scenario
	// that asserts one asserts it for every engine.
	console map[string]string

	// only, when set, lists the engines that can judge the scenario; the
	// others skip it, saying why.
	only []string
	why  string
}

// siteVars are what the Caddyfile and console templates can refer to.
type siteVars struct {
	AppOrigin  string // the page's origin, e.g. http://app.example.test:41234
	AppPort    int
	APIOrigin  string
	APIPort    int
	Backend    string // host:port of serveBackend
	Dead       string // host:port where nothing listens
	Dir        string // the scenario's own temporary directory
	User, Hash string // basic_auth credentials
}

// accessEntry is the part of a Caddy access log line the tests read.
type accessEntry struct {
	Request struct {
		Method  string              `json:"method"`
		URI     string              `json:"uri"`
		Headers map[string][]string `json:"headers"`
	} `json:"request"`
	Status      int                 `json:"status"`
	RespHeaders map[string][]string `json:"resp_headers"`
}

func (e accessEntry) String() string {
	return fmt.Sprintf("%s %s %d", e.Request.Method, e.Request.URI, e.Status)
}

// caddyMu serializes scenarios: Caddy runs one config per process.
var caddyMu sync.Mutex

// startCaddy adapts and loads a Caddyfile in-process, with the admin API off
// and nothing persisted, and returns the function that stops it.
func startCaddy(t *testing.T, caddyfile string) func() {
	t.Helper()
	adapter := caddyconfig.GetAdapter("caddyfile")
	cfgJSON, warnings, err := adapter.Adapt([]byte(caddyfile), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatalf("adapting the Caddyfile: %v\n%s", err, numbered(caddyfile))
	}
	for _, w := range warnings {
		// The harness indents the scenario's lines itself; only other
		// warnings are worth reading.
		if !strings.Contains(w.Message, "not formatted") {
			t.Logf("adapt warning: %s", w)
		}
	}
	cfgJSON, err = withoutAdmin(cfgJSON)
	if err != nil {
		t.Fatal(err)
	}
	if err := caddy.Load(cfgJSON, true); err != nil {
		t.Fatalf("loading the config: %v\n%s", err, numbered(caddyfile))
	}
	return func() {
		if err := caddy.Stop(); err != nil {
			t.Errorf("stopping Caddy: %v", err)
		}
	}
}

// withoutAdmin turns the admin endpoint and config persistence off, whatever
// the Caddyfile says, so that a loaded example never binds :2019 or writes
// to the user's config directory.
func withoutAdmin(cfgJSON []byte) ([]byte, error) {
	var cfg map[string]any
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		return nil, err
	}
	cfg["admin"] = map[string]any{"disabled": true, "config": map[string]any{"persist": false}}
	return json.Marshal(cfg)
}

func numbered(s string) string {
	var b strings.Builder
	for i, line := range strings.Split(s, "\n") {
		fmt.Fprintf(&b, "%3d  %s\n", i+1, line)
	}
	return b.String()
}

func render(t *testing.T, name, text string, v siteVars) string {
	t.Helper()
	tmpl, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		t.Fatalf("template %s: %v", name, err)
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, v); err != nil {
		t.Fatalf("template %s: %v", name, err)
	}
	return b.String()
}

// run proves one scenario: a fresh Caddy on fresh ports and a fresh browser
// context (its own cookies, HTTP cache and preflight cache).
func (sc scenario) run(t *testing.T, e engine) {
	if sc.only != nil && !slices.Contains(sc.only, e.name()) {
		t.Skipf("%s cannot judge this: %s", e.name(), sc.why)
	}
	caddyMu.Lock()
	defer caddyMu.Unlock()

	dir := t.TempDir()
	pageHost := sc.pageHost
	if pageHost == "" {
		pageHost = "app.example.test"
	}
	if !strings.Contains(hostsFile, " "+pageHost+"\n") && !strings.Contains(hostsFile, "\t"+pageHost+" ") {
		t.Fatalf("page host %s is missing from hostsFile, which WebKit resolves through", pageHost)
	}
	page := sc.page
	if page == "" {
		page = "/index.html"
	}
	v := siteVars{
		AppPort: freePort(),
		APIPort: freePort(),
		Backend: strings.TrimPrefix(backendURL, "http://"),
		Dead:    deadAddr,
		Dir:     dir,
		User:    authUser,
		Hash:    authHash,
	}
	v.AppOrigin = fmt.Sprintf("http://%s:%d", pageHost, v.AppPort)
	v.APIOrigin = fmt.Sprintf("http://api.example.test:%d", v.APIPort)

	accessLog := filepath.Join(dir, "access.log")
	pageLog := filepath.Join(dir, "page-access.log")
	debugLog := filepath.Join(dir, "caddy.log")
	caddyfile := fmt.Sprintf(`{
	admin off
	persist_config off
	auto_https off
	default_bind 127.0.0.1
	log {
		output file %s
		level DEBUG
	}
}

# The page site: any host name on its port. Its log says, when a page
# never reports, whether the engine even asked for it.
http://:%d {
	log {
		output file %s
		format json
	}
	root * %s
	header /sandboxed.html Content-Security-Policy "sandbox allow-scripts"
	file_server
}

http://api.example.test:%d {
	log {
		output file %s
		format json
	}
%s
}
`, debugLog, v.AppPort, pageLog, pageRoot, v.APIPort, accessLog, indent(render(t, "api", sc.api, v)))

	stopCaddy := startCaddy(t, caddyfile)
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			stopCaddy()
		}
	}
	defer stop()

	wantConsole := ""
	if sc.console != nil {
		tmpl, ok := sc.console[e.name()]
		if !ok {
			t.Fatalf("the scenario asserts a console line, but none for %s", e.name())
		}
		wantConsole = render(t, "console", tmpl, v)
	}
	results, console, err := runInPage(e, v.AppOrigin+page, v.APIOrigin, sc.js, wantConsole)
	// Stopping Caddy waits for the requests in flight, so the access log is
	// complete once it returns.
	stop()
	entries, logErr := readAccessLog(accessLog)

	var errs []string
	if err != nil {
		errs = append(errs, "running the script: "+err.Error())
	}
	if logErr != nil {
		errs = append(errs, "reading the access log: "+logErr.Error())
	}
	if err == nil {
		if len(results) != len(sc.want) {
			errs = append(errs, fmt.Sprintf("the script returned %d outcomes; want %d", len(results), len(sc.want)))
		}
		for i := range min(len(results), len(sc.want)) {
			for _, e := range sc.want[i].check(results[i]) {
				errs = append(errs, fmt.Sprintf("request %d: %s", i+1, e))
			}
		}
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.String())
	}
	wantLogs := [][]string{sc.log}
	if l, ok := sc.logFor[e.name()]; ok {
		wantLogs = l
	}
	if wantLogs[0] != nil && !slices.ContainsFunc(wantLogs, func(want []string) bool { return slices.Equal(got, want) }) {
		var want []string
		for _, l := range wantLogs {
			want = append(want, strings.Join(l, "\n\t\t"))
		}
		errs = append(errs, fmt.Sprintf("requests that reached the API:\n\t\t%s\n\twant:\n\t\t%s",
			strings.Join(got, "\n\t\t"), strings.Join(want, "\n\tor:\n\t\t")))
	}
	if wantConsole != "" && !slices.Contains(console, wantConsole) {
		errs = append(errs, fmt.Sprintf("console message %q not written; the console had:\n\t\t%s",
			wantConsole, strings.Join(console, "\n\t\t")))
	}
	if len(errs) == 0 {
		return
	}

	// Enough to reproduce the failure without the harness.
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "\t%s\n", e)
	}
	fmt.Fprintf(&b, "page %s%s, script:\n%s\n", v.AppOrigin, page, sc.js)
	res, _ := json.MarshalIndent(results, "", "  ")
	fmt.Fprintf(&b, "the script observed:\n%s\n", res)
	fmt.Fprintf(&b, "exchanges with the API site:\n")
	for _, e := range entries {
		fmt.Fprintf(&b, "  %s\n    request headers:  %s\n    response headers: %s\n",
			e, headerLine(e.Request.Headers), headerLine(e.RespHeaders))
	}
	if len(console) > 0 {
		fmt.Fprintf(&b, "console:\n\t%s\n", strings.Join(console, "\n\t"))
	}
	if pageEntries, err := readAccessLog(pageLog); err != nil {
		fmt.Fprintf(&b, "reading the page site's log: %v\n", err)
	} else {
		fmt.Fprintf(&b, "requests to the page site (%d):\n", len(pageEntries))
		for _, e := range pageEntries {
			fmt.Fprintf(&b, "  %s\n", e)
		}
	}
	fmt.Fprintf(&b, "Caddyfile:\n%s", numbered(caddyfile))
	if dbg, err := os.ReadFile(debugLog); err == nil {
		fmt.Fprintf(&b, "Caddy's log (debug):\n%s", filterDebug(dbg))
	}
	t.Error(b.String())
}

func indent(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = "\t" + strings.TrimSpace(l)
	}
	return strings.Join(lines, "\n")
}

func headerLine(h map[string][]string) string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		for _, v := range h[k] {
			parts = append(parts, k+": "+v)
		}
	}
	return strings.Join(parts, " | ")
}

// filterDebug keeps the lines of Caddy's log that explain a CORS decision or
// an error, not the start-up chatter.
func filterDebug(log []byte) string {
	var b strings.Builder
	for line := range strings.SplitSeq(string(log), "\n") {
		if strings.Contains(line, "cors") || strings.Contains(line, `"error"`) ||
			strings.Contains(line, `"warn"`) {
			b.WriteString("  " + line + "\n")
		}
	}
	return b.String()
}

func readAccessLog(path string) ([]accessEntry, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var entries []accessEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var e accessEntry
		if err := json.Unmarshal(line, &e); err != nil {
			return entries, fmt.Errorf("%w in %q", err, line)
		}
		entries = append(entries, e)
	}
	return entries, sc.Err()
}

// runInPage opens pageURL in e, runs js there and returns the outcomes and
// the console lines. The page runs the script itself (see pageHTML): the
// harness passes it in the URL's fragment, and reads the outcomes from the
// console line the page writes. When wantConsole is set, it waits a little
// for that line too.
func runInPage(e engine, pageURL, apiOrigin, js, wantConsole string) ([]outcome, []string, error) {
	script := fmt.Sprintf("const API = %s;\n%s", strconv.Quote(apiOrigin), js)
	log := newConsoleLog()
	closePage, err := e.open(pageURL+"#run="+url.PathEscape(script), log)
	if err != nil {
		return nil, nil, err
	}
	defer closePage()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	res, err := log.waitResult(ctx)
	if err != nil {
		return nil, log.all(), err
	}
	var results []outcome
	if err := json.Unmarshal([]byte(res), &results); err != nil {
		return nil, log.all(), fmt.Errorf("the page's result %q: %w", res, err)
	}
	if wantConsole != "" {
		log.waitLine(wantConsole)
		// Then any line the engine writes after it: a line the check
		// does not predict must be seen, not lost to timing.
		log.waitQuiet(300 * time.Millisecond)
	}
	return results, log.all(), nil
}
