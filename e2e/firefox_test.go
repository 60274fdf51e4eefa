package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// firefoxPrefs go into the profile's user.js.
var firefoxPrefs = map[string]any{
	// Every host name resolves to loopback, so that app.example.test and
	// api.example.test are two origins of one site, as in Chromium, and
	// Firefox's own background requests never leave the machine.
	"network.dns.forceResolve": "127.0.0.1",
	// Follow Fetch: Access-Control-Allow-Headers: * never covers
	// Authorization (Firefox still lets it by default).
	"network.cors_preflight.authorization_covered_by_wildcard": false,
	// The test sites are plain HTTP on purpose.
	"dom.security.https_first":            false,
	"dom.security.https_first_schemeless": false,
	"dom.security.https_only_mode":        false,
	// A form on a potentially trustworthy page (localhost) posting to a
	// plain-HTTP host otherwise stops at a "not secure" interstitial.
	"security.warn_submit_secure_to_insecure": false,
	// Nothing in the background that could write to the console.
	"services.settings.server":                          "http://127.0.0.1:9/",
	"browser.safebrowsing.malware.enabled":              false,
	"browser.safebrowsing.phishing.enabled":             false,
	"network.captive-portal-service.enabled":            false,
	"network.connectivity-service.enabled":              false,
	"datareporting.policy.dataSubmissionEnabled":        false,
	"toolkit.telemetry.reportingpolicy.firstRun":        false,
	"browser.shell.checkDefaultBrowser":                 false,
	"app.update.disabledForTesting":                     true,
	"browser.region.network.url":                        "",
	"extensions.getAddons.cache.enabled":                false,
	"network.predictor.enabled":                         false,
	"browser.newtabpage.activity-stream.feeds.topsites": false,
}

// findFirefox returns Firefox's binary, or "": $FIREFOX_PATH first, then
// Debian's Firefox ESR, then firefox on PATH.
func findFirefox() string {
	if p := os.Getenv("FIREFOX_PATH"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	// The binary itself, not /usr/bin/firefox-esr, a shell script whose
	// end would not end Firefox.
	if _, err := os.Stat("/usr/lib/firefox-esr/firefox-esr"); err == nil {
		return "/usr/lib/firefox-esr/firefox-esr"
	}
	for _, name := range []string{"firefox-esr", "firefox"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// firefoxEngine drives Firefox over WebDriver BiDi, which Firefox speaks
// itself: there is no geckodriver to install. Each open gets its own user
// context (a container: its own cookies and caches).
type firefoxEngine struct {
	bidi *bidi
}

func startFirefox(tmp string) (engine, func(), error) {
	path := findFirefox()
	if path == "" {
		return nil, nil, errMissing{"Firefox (looked at $FIREFOX_PATH, /usr/lib/firefox-esr/firefox-esr, and for firefox-esr and firefox on PATH)"}
	}
	profile, err := os.MkdirTemp(tmp, "firefox-")
	if err != nil {
		return nil, nil, err
	}
	var userJS strings.Builder
	for k, v := range firefoxPrefs {
		val, _ := json.Marshal(v)
		fmt.Fprintf(&userJS, "user_pref(%q, %s);\n", k, val)
	}
	if err := os.WriteFile(filepath.Join(profile, "user.js"), []byte(userJS.String()), 0o644); err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(path, "--headless", "--no-remote", "--profile", profile, "--remote-debugging-port=0")
	cmd.Env = append(os.Environ(), "MOZ_CRASHREPORTER_DISABLE=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	kill := func() { cmd.Process.Kill(); cmd.Wait() }

	// Firefox says where BiDi listens on stderr; the rest is drained.
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "WebDriver BiDi listening on "); ok {
				addr <- strings.TrimSpace(rest)
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	var ws string
	select {
	case ws = <-addr:
	case <-time.After(60 * time.Second):
		kill()
		return nil, nil, errors.New("Firefox did not open WebDriver BiDi within 60 s")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := dialBiDi(ctx, ws+"/session")
	if err != nil {
		kill()
		return nil, nil, err
	}
	if err := b.call(ctx, "session.new", map[string]any{"capabilities": map[string]any{}}, nil); err != nil {
		b.close()
		kill()
		return nil, nil, err
	}
	if err := b.call(ctx, "session.subscribe", map[string]any{"events": []string{"log.entryAdded"}}, nil); err != nil {
		b.close()
		kill()
		return nil, nil, err
	}
	return &firefoxEngine{bidi: b}, func() { b.close(); kill() }, nil
}

func (f *firefoxEngine) name() string { return firefox }

func (f *firefoxEngine) open(url string, log *consoleLog) (func(), error) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	var uc struct {
		UserContext string `json:"userContext"`
	}
	if err := f.bidi.call(ctx, "browser.createUserContext", map[string]any{}, &uc); err != nil {
		return nil, err
	}
	var bc struct {
		Context string `json:"context"`
	}
	if err := f.bidi.call(ctx, "browsingContext.create", map[string]any{"type": "tab", "userContext": uc.UserContext}, &bc); err != nil {
		return nil, err
	}
	f.bidi.listen(bc.Context, log)
	closeTab := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		f.bidi.listen(bc.Context, nil)
		f.bidi.call(ctx, "browsingContext.close", map[string]any{"context": bc.Context}, nil)
		f.bidi.call(ctx, "browser.removeUserContext", map[string]any{"userContext": uc.UserContext}, nil)
	}
	if err := f.bidi.call(ctx, "browsingContext.navigate", map[string]any{"context": bc.Context, "url": url, "wait": "complete"}, nil); err != nil {
		closeTab()
		return nil, fmt.Errorf("opening %s: %w", url, err)
	}
	return closeTab, nil
}

// bidi is a WebDriver BiDi connection: commands with their replies, and the
// log.entryAdded events routed to the console of their browsing context.
type bidi struct {
	conn *websocket.Conn

	mu       sync.Mutex
	nextID   int
	pending  map[int]chan bidiMessage
	consoles map[string]*consoleLog // by browsing context
}

type bidiMessage struct {
	Type    string          `json:"type"` // "success", "error" or "event"
	ID      int             `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   string          `json:"error"`
	Message string          `json:"message"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
}

func dialBiDi(ctx context.Context, url string) (*bidi, error) {
	conn, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, fmt.Errorf("connecting to Firefox's WebDriver BiDi at %s: %w", url, err)
	}
	conn.SetReadLimit(-1)
	b := &bidi{conn: conn, pending: map[int]chan bidiMessage{}, consoles: map[string]*consoleLog{}}
	go b.read()
	return b, nil
}

func (b *bidi) close() { b.conn.CloseNow() }

// listen routes the console of a browsing context to log, or stops when log
// is nil.
func (b *bidi) listen(context string, log *consoleLog) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if log == nil {
		delete(b.consoles, context)
	} else {
		b.consoles[context] = log
	}
}

func (b *bidi) read() {
	for {
		_, data, err := b.conn.Read(context.Background())
		if err != nil {
			b.mu.Lock()
			for id, ch := range b.pending {
				ch <- bidiMessage{Type: "error", Error: "connection closed", Message: err.Error()}
				delete(b.pending, id)
			}
			b.mu.Unlock()
			return
		}
		var m bidiMessage
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		if m.Type == "event" {
			b.event(m)
			continue
		}
		b.mu.Lock()
		ch := b.pending[m.ID]
		delete(b.pending, m.ID)
		b.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	}
}

func (b *bidi) event(m bidiMessage) {
	if m.Method != "log.entryAdded" {
		return
	}
	var e struct {
		Text   string `json:"text"`
		Source struct {
			Context string `json:"context"`
		} `json:"source"`
	}
	if json.Unmarshal(m.Params, &e) != nil {
		return
	}
	b.mu.Lock()
	log := b.consoles[e.Source.Context]
	b.mu.Unlock()
	if log != nil {
		log.add(e.Text)
	}
}

// call sends a command and decodes its result into result (when not nil).
func (b *bidi) call(ctx context.Context, method string, params, result any) error {
	ch := make(chan bidiMessage, 1)
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	b.pending[id] = ch
	b.mu.Unlock()
	msg, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err != nil {
		return err
	}
	if err := b.conn.Write(ctx, websocket.MessageText, msg); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Type == "error" {
			return fmt.Errorf("%s: %s: %s", method, m.Error, m.Message)
		}
		if result != nil {
			return json.Unmarshal(m.Result, result)
		}
		return nil
	case <-ctx.Done():
		b.mu.Lock()
		delete(b.pending, id)
		b.mu.Unlock()
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}
