package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// An engine is a browser the suite drives. The three engines share one way
// in: the harness opens a page and reads its console. A page reports what its
// script observed on one console line (see resultPrefix), so a scenario needs
// nothing from an engine but navigation and the console, which is all that
// MiniBrowser gives without automation, and the console is where each engine
// explains a refused CORS check.
type engine interface {
	// name is the engine's name in test names and expectations.
	name() string
	// open loads url in a fresh profile: no cookies, HTTP cache or preflight
	// cache from an earlier open. Every console line of the page goes to c.
	// The returned function closes the page and frees the profile.
	open(url string, c *consoleLog) (close func(), err error)
}

// Engine names, as scenarios and caddy cors check --browser spell them.
const (
	chromium = "chromium"
	firefox  = "firefox"
	webkit   = "webkit"

	// strictChromium is a second Chromium, run with
	// CorsNonWildcardRequestHeadersSupport: it applies the Fetch rule that
	// Access-Control-Allow-Headers: * never covers Authorization.
	strictChromium = "chromium-strict"
)

// engines lists the suite's engines, in the order the tests run them.
var engines = []string{chromium, firefox, webkit}

// installs says what a machine without an engine needs (Debian packages).
var installs = map[string]string{
	chromium:       "apt-get install -y chromium",
	strictChromium: "apt-get install -y chromium",
	firefox:        "apt-get install -y firefox-esr",
	webkit:         "apt-get install -y webkit2gtk-driver xvfb xauth",
}

// started holds each engine once started, or why it could not start.
var (
	startMu sync.Mutex
	started = map[string]*startedEngine{}
)

type startedEngine struct {
	e    engine
	stop func()
	err  error
}

// starters make each engine. Each returns errMissing (wrapped) when the
// browser is not installed.
var starters = map[string]func(tmp string) (engine, func(), error){
	chromium: func(tmp string) (engine, func(), error) { return startChromium(tmp, "main") },
	strictChromium: func(tmp string) (engine, func(), error) {
		return startChromium(tmp, "strict", chromedp.Flag("enable-features", "CorsNonWildcardRequestHeadersSupport"))
	},
	firefox: startFirefox,
	webkit:  startWebKit,
}

// missing says, for an engine that is not installed, what to install, or
// returns "" when it is.
func missing(name string) string {
	found := false
	switch name {
	case chromium, strictChromium:
		found = findChromium() != ""
	case firefox:
		found = findFirefox() != ""
	case webkit:
		_, err := exec.LookPath("Xvfb")
		found = findMiniBrowser() != "" && err == nil
	}
	if found {
		return ""
	}
	return installs[name]
}

// errMissing marks an engine that is not installed: a skip on a developer's
// machine, a failure in CI.
type errMissing struct{ what string }

func (e errMissing) Error() string { return e.what + " not found" }

// needEngine returns the engine for a test, started on first use, or ends
// the test: skipped on a developer machine without the browser, failed in CI,
// where a missing browser must never pass unnoticed.
func needEngine(t *testing.T, name string) engine {
	t.Helper()
	startMu.Lock()
	s, ok := started[name]
	if !ok {
		s = &startedEngine{}
		s.e, s.stop, s.err = starters[name](tmpDir)
		started[name] = s
	}
	startMu.Unlock()
	if m, missing := s.err.(errMissing); missing {
		hint := fmt.Sprintf("%s: %s; install it with: %s", name, m, installs[name])
		if os.Getenv("CI") != "" {
			t.Fatal(hint + " (CI is set, so every engine must run)")
		}
		t.Skip(hint)
	}
	if s.err != nil {
		t.Fatalf("starting %s: %v", name, s.err)
	}
	return s.e
}

// stopEngines stops every engine started.
func stopEngines() {
	startMu.Lock()
	defer startMu.Unlock()
	for _, s := range started {
		if s.stop != nil {
			s.stop()
		}
	}
}

// forEachEngine runs f as a subtest per engine.
func forEachEngine(t *testing.T, f func(t *testing.T, e engine)) {
	for _, name := range engines {
		t.Run(name, func(t *testing.T) { f(t, needEngine(t, name)) })
	}
}

// consoleLog collects a page's console lines as an engine delivers them.
type consoleLog struct {
	mu     sync.Mutex
	lines  []string
	notify chan struct{} // closed and replaced on every line
	notes  []string      // the engine's last other output lines
}

// note keeps a line the engine printed that is not a console line (a
// crash, a failed load): the last few explain a page that never reports.
func (c *consoleLog) note(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.notes) == 20 {
		c.notes = c.notes[1:]
	}
	c.notes = append(c.notes, line)
}

func newConsoleLog() *consoleLog {
	return &consoleLog{notify: make(chan struct{})}
}

func (c *consoleLog) add(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, line)
	close(c.notify)
	c.notify = make(chan struct{})
}

func (c *consoleLog) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.lines)
}

// waitFor waits until a line satisfies ok, and returns it.
func (c *consoleLog) waitFor(ctx context.Context, ok func(string) bool) (string, error) {
	seen := 0
	for {
		c.mu.Lock()
		lines, notify := c.lines[seen:], c.notify
		seen = len(c.lines)
		c.mu.Unlock()
		for _, l := range lines {
			if ok(l) {
				return l, nil
			}
		}
		select {
		case <-notify:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// waitLine waits for the line want: an engine reports a refused CORS check
// to the console about when the script sees the network error, not always
// before, and on a loaded machine seconds later. The bound only matters
// when the line never comes.
func (c *consoleLog) waitLine(want string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, err := c.waitFor(ctx, func(l string) bool { return l == want })
	return err == nil
}

// waitQuiet waits until no line has come for d.
func (c *consoleLog) waitQuiet(d time.Duration) {
	for {
		c.mu.Lock()
		notify := c.notify
		c.mu.Unlock()
		select {
		case <-notify:
		case <-time.After(d):
			return
		}
	}
}

// resultPrefix starts the console line on which a page reports its outcomes.
const resultPrefix = "e2e-result "

// waitResult waits for the page's result line and returns what follows the
// prefix. Engines frame console lines differently (WebKit puts the script's
// location first), so the prefix is looked for anywhere in the line.
func (c *consoleLog) waitResult(ctx context.Context) (string, error) {
	l, err := c.waitFor(ctx, func(l string) bool { return strings.Contains(l, resultPrefix) })
	if err != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		if len(c.notes) > 0 {
			return "", fmt.Errorf("no result from the page: %w; the engine's last other output:\n\t%s", err, strings.Join(c.notes, "\n\t"))
		}
		return "", fmt.Errorf("no result from the page: %w", err)
	}
	return l[strings.Index(l, resultPrefix)+len(resultPrefix):], nil
}
