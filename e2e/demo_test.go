package e2e

import (
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDemo presses every button of the demo that Caddyfile.example serves
// (the page on http://localhost:8080, the API on http://localhost:8081) and
// checks that each outcome is the one the page promises. It is the only test
// that uses the demo's fixed ports.
func TestDemo(t *testing.T) {
	browser := needBrowser(t, false)
	caddyMu.Lock()
	defer caddyMu.Unlock()

	caddyfile, err := os.ReadFile("../Caddyfile.example")
	if errors.Is(err, os.ErrNotExist) {
		t.Fatal("../Caddyfile.example is missing: the demo it serves is part of the product")
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"127.0.0.1:8080", "127.0.0.1:8081"} {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("the demo needs %s, which is taken (is the demo already running?): %v", addr, err)
		}
		l.Close()
	}
	// The demo's root is relative to the repository root, where its
	// comment says to run it.
	t.Chdir("..")
	stop := startCaddy(t, string(caddyfile))
	defer stop()

	tb, err := openTab(browser, "http://localhost:8080/")
	if err != nil {
		t.Fatal(err)
	}
	defer tb.cancel()

	for _, b := range []struct {
		id      string
		outcome string
		text    *regexp.Regexp // what the result says, when it matters
	}{
		{id: "get", outcome: "allowed", text: regexp.MustCompile(`^allowed: 200 \{"hello":"world"\}$`)},
		{id: "put", outcome: "allowed", text: regexp.MustCompile(`^allowed: 200 \{"saved":true\}$`)},
		{id: "delete", outcome: "blocked"},
		{id: "credentials", outcome: "allowed", text: regexp.MustCompile(`^allowed: 200 \{"user":"demo"\}$`)},
		// The exposed header is readable, the other one is not.
		{id: "exposed", outcome: "allowed", text: regexp.MustCompile(`^allowed: X-Request-Id: [0-9a-f-]{36}\nX-Not-Exposed: null$`)},
	} {
		if err := chromedp.Do(tb.ctx, chromedp.Click(chromedp.ID(b.id))); err != nil {
			t.Fatalf("clicking #%s: %v", b.id, err)
		}
		result := fmt.Sprintf(`document.getElementById(%q)`, b.id+"-result")
		outcome, err := chromedp.Run(tb.ctx, chromedp.Poll[string](result+`.dataset.outcome`,
			chromedp.WithPollingTimeout(10*time.Second)))
		if err != nil {
			t.Errorf("#%s: no outcome: %v", b.id, err)
			continue
		}
		text, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](result+`.textContent`))
		if err != nil {
			t.Fatal(err)
		}
		if outcome != b.outcome {
			t.Errorf("#%s: %s (%q); want %s", b.id, outcome, text, b.outcome)
		} else if b.text != nil && !b.text.MatchString(text) {
			t.Errorf("#%s: the page says %q; want it to match %s", b.id, text, b.text)
		}
	}

	// The refused DELETE must be explained where a developer looks first.
	const refused = "Method DELETE is not allowed by Access-Control-Allow-Methods in preflight response."
	tb.waitConsole(refused)
	found := false
	for _, m := range tb.console() {
		found = found || strings.Contains(m, refused)
	}
	if !found {
		t.Errorf("the console does not say %q; it has:\n\t%s", refused, strings.Join(tb.console(), "\n\t"))
	}
}
