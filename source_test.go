package cors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func init() {
	caddy.RegisterModule(testSource{})
}

// testSource is an origin source the tests register, as a third party
// would: its answers come from a script the test sets under its name.
type testSource struct {
	Name string `json:"name"`
}

// sourceScript is what a testSource answers, and what it was asked.
type sourceScript struct {
	answer func(origin, host string) (OriginAnswer, error)

	mu       sync.Mutex
	asked    []cacheKey
	calls    atomic.Int64
	canceled atomic.Bool // a lookup's context was done when it answered
}

func (s *sourceScript) questions() []cacheKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.asked)
}

var sourceScripts sync.Map // name -> *sourceScript

func (testSource) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.cors.origins.test",
		New: func() caddy.Module { return new(testSource) },
	}
}

func (s testSource) AllowOrigin(ctx context.Context, origin, host string) (OriginAnswer, error) {
	v, _ := sourceScripts.Load(s.Name)
	sc := v.(*sourceScript)
	sc.calls.Add(1)
	sc.mu.Lock()
	sc.asked = append(sc.asked, cacheKey{origin, host})
	sc.mu.Unlock()
	a, err := sc.answer(origin, host)
	if ctx.Err() != nil {
		sc.canceled.Store(true)
	}
	return a, err
}

// scripted registers a script for a test source named after the test, and
// returns the JSON of that source. The name is new on every call, so that
// a run of the test (-count) never finds the cache of the previous one.
func scripted(t testing.TB, answer func(origin, host string) (OriginAnswer, error)) (json.RawMessage, *sourceScript) {
	sc := &sourceScript{answer: answer}
	name := fmt.Sprintf("%s#%d", t.Name(), scriptSeq.Add(1))
	sourceScripts.Store(name, sc)
	t.Cleanup(func() { sourceScripts.Delete(name) })
	raw, _ := json.Marshal(map[string]string{"source": "test", "name": name})
	return raw, sc
}

var scriptSeq atomic.Int64

// allowOnly answers for one exact origin.
func allowOnly(allowed string) func(string, string) (OriginAnswer, error) {
	return func(origin, _ string) (OriginAnswer, error) {
		return OriginAnswer{Allowed: origin == allowed}, nil
	}
}

// serve sends a request with the given Origin lines through h.
func serve(h *Handler, method string, origins ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "http://api.example.com/", nil)
	for _, o := range origins {
		req.Header.Add("Origin", o)
	}
	if method == http.MethodOptions {
		req.Header.Set("Access-Control-Request-Method", "PUT")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req, nopNext)
	return w
}

// TestSourceAnswersOnlyTheExactOrigin pins that an answer for https://a.com
// never serves another origin, and that malformed origins never reach the
// source at all.
func TestSourceAnswersOnlyTheExactOrigin(t *testing.T) {
	raw, sc := scripted(t, allowOnly("https://a.com"))
	h := provisioned(t, Handler{SourcesRaw: []json.RawMessage{raw}, Methods: []string{"PUT"}})
	if got := serve(h, "GET", "https://a.com").Header().Get("Access-Control-Allow-Origin"); got != "https://a.com" {
		t.Fatalf("allowed origin: Access-Control-Allow-Origin %q", got)
	}
	tests := []struct {
		name    string
		origins []string
		asked   bool // the source may be asked (a well-formed origin)
	}{
		{"suffix of another domain", []string{"https://a.com.evil.net"}, true},
		{"other scheme", []string{"http://a.com"}, true},
		{"other port", []string{"https://a.com:444"}, true},
		{"upper case", []string{"https://A.com"}, false},
		{"trailing dot", []string{"https://a.com."}, false},
		{"default port spelled out", []string{"https://a.com:443"}, false},
		{"trailing slash", []string{"https://a.com/"}, false},
		{"path", []string{"https://a.com/x"}, false},
		{"user info", []string{"https://u@a.com"}, false},
		{"null", []string{"null"}, false},
		{"two Origin lines", []string{"https://a.com", "https://a.com"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, method := range []string{"GET", "OPTIONS"} {
				before := len(sc.questions())
				w := serve(h, method, tt.origins...)
				if got := w.Header().Get("Access-Control-Allow-Origin"); got != "" {
					t.Errorf("%s %q: Access-Control-Allow-Origin %q", method, tt.origins, got)
				}
				if !slices.Contains(varyTokens(w.Header()), "Origin") {
					t.Errorf("%s %q: no Vary: Origin (%q)", method, tt.origins, w.Header().Values("Vary"))
				}
				if asked := len(sc.questions()) > before; asked && !tt.asked {
					t.Errorf("%s %q reached the source: %q", method, tt.origins, sc.questions()[before:])
				}
			}
		})
	}
}

// TestSourcePolicyIsNeverAnyOrigin pins that a policy whose only origins
// come from a source sends the origin itself, never "*", and Vary: Origin on
// every answer, with credentials too.
func TestSourcePolicyIsNeverAnyOrigin(t *testing.T) {
	raw, _ := scripted(t, allowOnly("https://a.com"))
	for _, credentials := range []bool{false, true} {
		h := provisioned(t, Handler{SourcesRaw: []json.RawMessage{raw}, AllowCredentials: credentials})
		for _, tc := range []struct {
			method, origin, wantACAO string
		}{
			{"GET", "https://a.com", "https://a.com"},
			{"OPTIONS", "https://a.com", "https://a.com"},
			{"GET", "https://b.com", ""},
			{"OPTIONS", "https://b.com", ""},
			{"GET", "", ""},
		} {
			var origins []string
			if tc.origin != "" {
				origins = []string{tc.origin}
			}
			w := serve(h, tc.method, origins...)
			if got := w.Header().Get("Access-Control-Allow-Origin"); got != tc.wantACAO {
				t.Errorf("credentials %v, %s from %q: Access-Control-Allow-Origin %q, want %q", credentials, tc.method, tc.origin, got, tc.wantACAO)
			}
			if !slices.Contains(varyTokens(w.Header()), "Origin") {
				t.Errorf("credentials %v, %s from %q: Vary %q, want Origin in it", credentials, tc.method, tc.origin, w.Header().Values("Vary"))
			}
			wantCred := ""
			if credentials && tc.wantACAO != "" {
				wantCred = "true"
			}
			if got := w.Header().Get("Access-Control-Allow-Credentials"); got != wantCred {
				t.Errorf("credentials %v, %s from %q: Access-Control-Allow-Credentials %q, want %q", credentials, tc.method, tc.origin, got, wantCred)
			}
		}
	}
}

func TestStaticOriginsAreConsultedFirst(t *testing.T) {
	raw, sc := scripted(t, allowOnly("https://b.com"))
	h := provisioned(t, Handler{
		Origins:      []string{"https://a.com", "https://*.example.com"},
		OriginRegexp: []string{`https://[a-z]+\.example\.org`},
		SourcesRaw:   []json.RawMessage{raw},
	})
	for _, o := range []string{"https://a.com", "https://x.example.com", "https://x.example.org"} {
		if got := serve(h, "GET", o).Header().Get("Access-Control-Allow-Origin"); got != o {
			t.Errorf("%s: Access-Control-Allow-Origin %q", o, got)
		}
	}
	if q := sc.questions(); len(q) != 0 {
		t.Errorf("origins the static policy allows were asked about: %q", q)
	}
	if got := serve(h, "GET", "https://b.com").Header().Get("Access-Control-Allow-Origin"); got != "https://b.com" {
		t.Errorf("the source's origin: Access-Control-Allow-Origin %q", got)
	}
	if q := sc.questions(); !slices.Equal(q, []cacheKey{{"https://b.com", "api.example.com"}}) {
		t.Errorf("questions %q, want the origin and the request's host", q)
	}
}

// TestOneLookupForConcurrentRequests: 1,000 concurrent requests for one new
// origin make exactly one lookup, and all get its answer.
func TestOneLookupForConcurrentRequests(t *testing.T) {
	release := make(chan struct{})
	raw, sc := scripted(t, func(string, string) (OriginAnswer, error) {
		<-release
		return OriginAnswer{Allowed: true}, nil
	})
	h := provisioned(t, Handler{SourcesRaw: []json.RawMessage{raw}})
	const n = 1000
	var wg sync.WaitGroup
	var allowed atomic.Int64
	for range n {
		wg.Go(func() {
			if serve(h, "GET", "https://new.example").Header().Get("Access-Control-Allow-Origin") == "https://new.example" {
				allowed.Add(1)
			}
		})
	}
	for sc.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // let the others queue up behind the lookup
	close(release)
	wg.Wait()
	if c := sc.calls.Load(); c != 1 {
		t.Errorf("%d lookups, want 1", c)
	}
	if a := allowed.Load(); a != n {
		t.Errorf("%d of %d requests allowed", a, n)
	}
}

// TestClientGoneDoesNotCancelTheLookup: the request that started a lookup
// may go away; the lookup goes on for the others.
func TestClientGoneDoesNotCancelTheLookup(t *testing.T) {
	started := make(chan struct{})
	raw, sc := scripted(t, func(string, string) (OriginAnswer, error) {
		close(started)
		time.Sleep(50 * time.Millisecond)
		return OriginAnswer{Allowed: true}, nil
	})
	h := provisioned(t, Handler{SourcesRaw: []json.RawMessage{raw}})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		req := httptest.NewRequestWithContext(ctx, "GET", "http://api.example.com/", nil)
		req.Header.Set("Origin", "https://a.com")
		h.ServeHTTP(httptest.NewRecorder(), req, nopNext)
	}()
	<-started
	cancel()
	if got := serve(h, "GET", "https://a.com").Header().Get("Access-Control-Allow-Origin"); got != "https://a.com" || sc.canceled.Load() {
		t.Errorf("after the first client left: Access-Control-Allow-Origin %q", got)
	}
}

// TestFailingSource: an error refuses an origin the cache does not know,
// keeps a stale answer within stale_if_error, caches no refusal, and is
// logged once a minute.
func TestFailingSource(t *testing.T) {
	var failing atomic.Bool
	raw, sc := scripted(t, func(origin, _ string) (OriginAnswer, error) {
		if failing.Load() {
			return OriginAnswer{}, errors.New("connection refused")
		}
		return OriginAnswer{Allowed: origin == "https://known.example"}, nil
	})
	h := provisioned(t, Handler{SourcesRaw: []json.RawMessage{raw}})
	core, logs := observer.New(zapcore.DebugLevel)
	h.logger = zap.New(core)
	h.sources.asked[0].log = h.logger
	clock := &fakeClock{t: time.Now()}
	h.sources.asked[0].shared.cache.now = clock.now

	acao := func(o string) string { return serve(h, "GET", o).Header().Get("Access-Control-Allow-Origin") }
	if acao("https://known.example") == "" {
		t.Fatal("known origin refused while the source works")
	}
	failing.Store(true)
	clock.advance(defaultAllowTTL + time.Minute) // expired, within stale_if_error
	if got := acao("https://known.example"); got != "https://known.example" {
		t.Errorf("stale answer not used during the outage: %q", got)
	}
	if got := acao("https://new.example"); got != "" {
		t.Errorf("new origin allowed during the outage: %q", got)
	}
	calls := sc.calls.Load()
	if acao("https://new.example"); sc.calls.Load() != calls+1 {
		t.Error("an error was cached as a refusal: the next request did not ask again")
	}
	if n := logs.FilterLevelExact(zapcore.ErrorLevel).Len(); n != 1 {
		t.Errorf("%d error lines within a minute, want 1", n)
	}
	clock.advance(defaultStaleIfError)
	if got := acao("https://known.example"); got != "" {
		t.Errorf("stale answer used past stale_if_error: %q", got)
	}
	if n := logs.FilterLevelExact(zapcore.ErrorLevel).Len(); n != 2 {
		t.Errorf("%d error lines after an hour, want 2", n)
	}
	var answers []string
	for _, e := range logs.FilterMessage("origin refused by origin source").All() {
		answers = append(answers, e.ContextMap()["answer"].(string))
	}
	if !slices.Contains(answers, "error") {
		t.Errorf("refusal debug lines name answers %q, want an error among them", answers)
	}
	failing.Store(false)
	if got := acao("https://new.example"); got != "" {
		t.Errorf("refused origin: %q", got)
	}
	if got := acao("https://known.example"); got != "https://known.example" {
		t.Errorf("known origin after the outage: %q", got)
	}
}

// TestCacheSurvivesReload: handlers provisioned with the same source and
// cache settings share the cache; other settings get another.
func TestCacheSurvivesReload(t *testing.T) {
	raw, sc := scripted(t, allowOnly("https://a.com"))
	load := func(oc *OriginCache) (*Handler, func()) {
		h := Handler{SourcesRaw: []json.RawMessage{raw}, OriginCache: oc}
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		if err := h.Provision(ctx); err != nil {
			t.Fatal(err)
		}
		return &h, func() { h.Cleanup(); cancel() }
	}
	old, unload := load(nil)
	serve(old, "GET", "https://a.com")
	reloaded, unload2 := load(nil)
	unload()
	serve(reloaded, "GET", "https://a.com")
	if c := sc.calls.Load(); c != 1 {
		t.Errorf("%d lookups across a reload with the same settings, want 1", c)
	}
	changed, unload3 := load(&OriginCache{AllowTTL: caddy.Duration(time.Minute)})
	unload2()
	serve(changed, "GET", "https://a.com")
	if c := sc.calls.Load(); c != 2 {
		t.Errorf("%d lookups after the cache settings changed, want 2", c)
	}
	unload3()
	sharedCaches.mu.Lock()
	defer sharedCaches.mu.Unlock()
	for k := range sharedCaches.m {
		if json.Valid([]byte(k[:len(raw)])) && string(k[:len(raw)]) == string(raw) {
			t.Errorf("a cache outlived every handler that used it: %q", k)
		}
	}
	// The caches' clock ticks while a cache is left, and only then.
	cacheClock.mu.Lock()
	users := cacheClock.users
	cacheClock.mu.Unlock()
	if users != len(sharedCaches.m) {
		t.Errorf("the caches' clock has %d users, and there are %d caches", users, len(sharedCaches.m))
	}
	if len(sharedCaches.m) == 0 {
		if n := waitClockGoroutines(0); n != 0 {
			t.Errorf("the caches' clock still ticks after the last cache was released (%d goroutines)", n)
		}
	}
}

// TestSourceCacheHitAllocations pins that an origin allowed from the cache
// costs what one allowed by a static exact origin does.
func TestSourceCacheHitAllocations(t *testing.T) {
	raw, _ := scripted(t, allowOnly("https://a.com"))
	static := provisioned(t, Handler{Origins: []string{"https://a.com"}})
	sourced := provisioned(t, Handler{SourcesRaw: []json.RawMessage{raw}})
	static.logger, sourced.logger = infoLogger(), infoLogger()
	sourced.sources.asked[0].log = sourced.logger
	allocs := func(h *Handler) float64 {
		req := httptest.NewRequest("GET", "http://api.example.com/", nil)
		req.Header.Set("Origin", "https://a.com")
		w := &discardWriter{h: make(http.Header)}
		h.ServeHTTP(w, req, nopNext) // fills the cache
		return testing.AllocsPerRun(100, func() {
			clear(w.h)
			h.ServeHTTP(w, req, nopNext)
		})
	}
	if s, c := allocs(static), allocs(sourced); c > s {
		t.Errorf("allowed from the cache: %v allocations, static exact origin: %v", c, s)
	}
}

// TestSourceConfigErrorsNameTheJSONField pins the load-time checks of a
// JSON config.
func TestSourceConfigErrorsNameTheJSONField(t *testing.T) {
	raw, _ := scripted(t, allowOnly("https://a.com"))
	for _, tc := range []struct {
		name string
		h    Handler
		want string
	}{
		{"negative allow_ttl", Handler{SourcesRaw: []json.RawMessage{raw}, OriginCache: &OriginCache{AllowTTL: -caddy.Duration(time.Minute)}}, "origin_cache.allow_ttl: -1m0s is negative"},
		{"negative deny_ttl", Handler{SourcesRaw: []json.RawMessage{raw}, OriginCache: &OriginCache{DenyTTL: -1}}, "origin_cache.deny_ttl: -1ns is negative"},
		{"negative max_entries", Handler{SourcesRaw: []json.RawMessage{raw}, OriginCache: &OriginCache{MaxEntries: -1}}, "origin_cache.max_entries: -1 is negative"},
		{"cache without source", Handler{Origins: []string{"https://a.com"}, OriginCache: &OriginCache{}}, "origin_cache: origin_cache keeps the answers of origin sources, and there is none"},
		{"star with source", Handler{Origins: []string{"*"}, SourcesRaw: []json.RawMessage{raw}}, `origins[0]: "*" already allows every origin`},
		{"bad url", Handler{SourcesRaw: []json.RawMessage{json.RawMessage(`{"source":"http","url":"ftp://x"}`)}}, `url "ftp://x": not an http:// or https:// URL`},
		{"unset env", Handler{SourcesRaw: []json.RawMessage{json.RawMessage(`{"source":"http","url":"http://127.0.0.1/{http.request.host}"}`)}}, `only global placeholders`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			err := tc.h.Provision(ctx)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// TestCaddyfileOriginSourceAdapts pins the JSON an origin_source and an
// origin_cache adapt to.
func TestCaddyfileOriginSourceAdapts(t *testing.T) {
	d := caddyfile.NewTestDispenser(`cors {
		origin_source http http://localhost:5555/ask {
			timeout 3s
			max_lookups 8
		}
		origin_source file /etc/caddy/origins.txt {
			refresh 10s
		}
		origin_cache {
			deny_ttl 10s
			max_entries 500
		}
	}`)
	var h Handler
	if err := h.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(struct {
		S []json.RawMessage `json:"origin_sources"`
		C *OriginCache      `json:"origin_cache"`
	}{h.SourcesRaw, h.OriginCache})
	want := `{"origin_sources":[{"max_lookups":8,"source":"http","timeout":3000000000,"url":"http://localhost:5555/ask"},{"path":"/etc/caddy/origins.txt","refresh":10000000000,"source":"file"}],"origin_cache":{"deny_ttl":10000000000,"max_entries":500}}`
	if string(got) != want {
		t.Errorf("adapted to\n%s\nwant\n%s", got, want)
	}
}

// TestCachedRefusalNeverOverridesTheStaticPolicy pins the order of the
// checks: a fresh refusal in a cache kept across a reload does not refuse
// an origin the new config's static origins allow, and a fresh grant needs
// no lookup.
func TestCachedRefusalNeverOverridesTheStaticPolicy(t *testing.T) {
	raw, sc := scripted(t, allowOnly("https://granted.example"))
	before := provisioned(t, Handler{SourcesRaw: []json.RawMessage{raw}})
	for _, o := range []string{"https://a.example.com", "https://granted.example"} {
		serve(before, "GET", o)
	}
	after := provisioned(t, Handler{Origins: []string{"https://*.example.com"}, SourcesRaw: []json.RawMessage{raw}})
	if got := serve(after, "GET", "https://a.example.com").Header().Get("Access-Control-Allow-Origin"); got != "https://a.example.com" {
		t.Errorf("an origin the static policy allows, refused in the cache: Access-Control-Allow-Origin %q", got)
	}
	if got := serve(after, "GET", "https://granted.example").Header().Get("Access-Control-Allow-Origin"); got != "https://granted.example" {
		t.Errorf("an origin granted in the cache: Access-Control-Allow-Origin %q", got)
	}
	if n := sc.calls.Load(); n != 2 {
		t.Errorf("%d lookups, want 2 (one per origin, before the reload)", n)
	}
}

// TestQuestionHost pins how a request's Host becomes the host a source is
// asked about: the port and the brackets go, an empty or over-long host is
// no question at all (253 is the longest host name, two more for the
// brackets of an IPv6 literal).
func TestQuestionHost(t *testing.T) {
	for _, tt := range []struct {
		host   string
		want   string
		wantOK bool
	}{
		{"api.example.com", "api.example.com", true},
		{"api.example.com:8443", "api.example.com", true},
		{"[2001:db8::1]", "2001:db8::1", true},
		{"[2001:db8::1]:8443", "2001:db8::1", true},
		{"[::1]", "::1", true},
		{":8443", "", false},
		{"[]", "", false},
		{"", "", false},
		{"[x", "[x", true},
		{"x]", "x]", true},
		{strings.Repeat("a", 255), strings.Repeat("a", 255), true},
		{strings.Repeat("a", 256), "", false},
		{strings.Repeat("a", 255) + ":1", strings.Repeat("a", 255), true},
	} {
		got, ok := questionHost(tt.host)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("questionHost(%.20q) = %.20q, %v; want %.20q, %v", tt.host, got, ok, tt.want, tt.wantOK)
		}
	}
}

// TestACachedAllowSparesTheOtherSources pins the order of an origin
// source's work: a fresh answer in any source's cache is used before any
// source is asked, so that an origin one source allows costs no lookup of
// another whose refusals are not cached.
func TestACachedAllowSparesTheOtherSources(t *testing.T) {
	refuser, refuserScript := scripted(t, func(string, string) (OriginAnswer, error) {
		return OriginAnswer{NoStore: true}, nil
	})
	allower, allowerScript := scripted(t, allowOnly("https://b.com"))
	h := provisioned(t, Handler{SourcesRaw: []json.RawMessage{refuser, allower}})
	for i := range 3 {
		if got := serve(h, "GET", "https://b.com").Header().Get("Access-Control-Allow-Origin"); got != "https://b.com" {
			t.Fatalf("request %d: Access-Control-Allow-Origin %q", i, got)
		}
	}
	if n := refuserScript.calls.Load(); n != 1 {
		t.Errorf("the source that keeps no answer was asked %d times, want once: the other's cached allow was not used first", n)
	}
	if n := allowerScript.calls.Load(); n != 1 {
		t.Errorf("the allowing source was asked %d times, want once", n)
	}
}

// TestEverySourceIsAskedPastTheSixtyFourth pins that the bit set of fresh
// refusals, 64 wide, costs the sources past the 64th nothing but a second
// cache lookup: each is asked, its answer cached and used.
func TestEverySourceIsAskedPastTheSixtyFourth(t *testing.T) {
	const n = 70
	var raws []json.RawMessage
	var scripts []*sourceScript
	for i := range n {
		raw, sc := scripted(t, allowOnly(fmt.Sprintf("https://s%d.example", i)))
		raws = append(raws, raw)
		scripts = append(scripts, sc)
	}
	h := provisioned(t, Handler{SourcesRaw: raws})
	for _, i := range []int{0, 63, 64, 69} {
		o := fmt.Sprintf("https://s%d.example", i)
		for try := range 2 {
			if got := serve(h, "GET", o).Header().Get("Access-Control-Allow-Origin"); got != o {
				t.Errorf("%s, request %d: Access-Control-Allow-Origin %q", o, try, got)
			}
		}
	}
	for try := range 2 {
		if got := serve(h, "GET", "https://other.example").Header().Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("request %d: an origin no source allows got %q", try, got)
		}
	}
	// Each source is asked once about each origin that reaches it, in
	// order, and its cached answers serve the second requests.
	for i, sc := range scripts {
		want := int64(2) // s69 and other
		switch {
		case i == 0:
			want = 5 // s0, s63, s64, s69, other
		case i <= 63:
			want = 4 // s63, s64, s69, other
		case i == 64:
			want = 3 // s64, s69, other
		}
		if got := sc.calls.Load(); got != want {
			t.Errorf("source %d was asked %d times, want %d", i, got, want)
		}
	}
}

// TestSourceIsAskedAboutTheLongestOrigin pins the bound on questions: an
// origin as long as one can be (a 64-byte scheme, a 253-byte host and a
// port) is asked about; a longer one could not be well-formed.
func TestSourceIsAskedAboutTheLongestOrigin(t *testing.T) {
	longHost := strings.Repeat(strings.Repeat("a", 63)+".", 4)[:maxHostLen]
	origin := strings.Repeat("s", maxSchemeLen) + "://" + longHost + ":65535"
	if len(origin) != maxOriginLen {
		t.Fatalf("the origin is %d bytes, want %d", len(origin), maxOriginLen)
	}
	raw, sc := scripted(t, allowOnly(origin))
	h := provisioned(t, Handler{SourcesRaw: []json.RawMessage{raw}})
	if got := serve(h, "GET", origin).Header().Get("Access-Control-Allow-Origin"); got != origin {
		t.Errorf("Access-Control-Allow-Origin %.40q..., want the origin (asked %d times)", got, sc.calls.Load())
	}
}

// TestSourceErrorsAreLoggedOnceAMinute pins the rate limit of a failing
// source's error line to the nanosecond: a minute after the last line, the
// next error is logged again.
func TestSourceErrorsAreLoggedOnceAMinute(t *testing.T) {
	core, logs := observer.New(zapcore.ErrorLevel)
	log := zap.New(core)
	clock := &fakeClock{t: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	s := &sharedCache{cache: newOriginCache(cacheSettings{}, clock.now)}
	for i, step := range []struct {
		advance time.Duration
		logged  bool
	}{
		{0, true},
		{0, false},
		{errorLogInterval - time.Nanosecond, false},
		{time.Nanosecond, true},
		{errorLogInterval, true},
		{time.Nanosecond, false},
	} {
		clock.advance(step.advance)
		before := logs.Len()
		s.logError(log, "test", "https://a.com", "h", errors.New("connection refused"))
		if logged := logs.Len() > before; logged != step.logged {
			t.Errorf("error %d (after %v more): logged %v, want %v", i, step.advance, logged, step.logged)
		}
	}
}
