package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDemo presses every button of the demo that Caddyfile.example serves
// (the page on http://localhost:8080, the API on http://localhost:8081), in
// every engine, and checks that each outcome is the one the page promises and
// that the console explains the refused DELETE. It is the only test that uses
// the demo's fixed ports.
func TestDemo(t *testing.T) {
	caddyfile, err := os.ReadFile("../Caddyfile.example")
	if errors.Is(err, os.ErrNotExist) {
		t.Fatal("../Caddyfile.example is missing: the demo it serves is part of the product")
	}
	if err != nil {
		t.Fatal(err)
	}
	forEachEngine(t, func(t *testing.T, e engine) {
		caddyMu.Lock()
		defer caddyMu.Unlock()
		for _, addr := range []string{"127.0.0.1:8080", "127.0.0.1:8081"} {
			if err := waitFree(addr, 10*time.Second); err != nil {
				t.Fatalf("the demo needs %s, which is taken (is the demo already running?): %v", addr, err)
			}
		}
		// The demo's root is relative to the repository root, where its
		// comment says to run it.
		t.Chdir("..")
		stop := startCaddy(t, string(caddyfile))
		defer stop()

		// Opened as #all, the page presses every button in turn and writes
		// the outcomes on one console line.
		log := newConsoleLog()
		closePage, err := e.open("http://localhost:8080/#all", log)
		if err != nil {
			t.Fatal(err)
		}
		defer closePage()
		ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
		defer cancel()
		line, err := log.waitFor(ctx, func(l string) bool { return strings.Contains(l, "demo-results ") })
		if err != nil {
			t.Fatalf("the page wrote no results: %v; the console had:\n\t%s", err, strings.Join(log.all(), "\n\t"))
		}
		var results []struct{ ID, Outcome, Text string }
		if err := json.Unmarshal([]byte(line[strings.Index(line, "demo-results ")+len("demo-results "):]), &results); err != nil {
			t.Fatalf("the page's results %q: %v", line, err)
		}
		got := map[string]struct{ Outcome, Text string }{}
		for _, r := range results {
			got[r.ID] = struct{ Outcome, Text string }{r.Outcome, r.Text}
		}
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
			r, ok := got[b.id]
			switch {
			case !ok:
				t.Errorf("#%s: no outcome", b.id)
			case r.Outcome != b.outcome:
				t.Errorf("#%s: %s (%q); want %s", b.id, r.Outcome, r.Text, b.outcome)
			case b.text != nil && !b.text.MatchString(r.Text):
				t.Errorf("#%s: the page says %q; want it to match %s", b.id, r.Text, b.text)
			}
		}

		// The refused DELETE must be explained where a developer looks first.
		refused := render(t, "console", refusedMethodAt("http://localhost:8081/api/items/1", "DELETE")[e.name()],
			siteVars{AppOrigin: "http://localhost:8080"})
		if !log.waitLine(refused) {
			t.Errorf("the console does not say %q; it has:\n\t%s", refused, strings.Join(log.all(), "\n\t"))
		}
	})
}

// waitFree waits until addr can be listened on: the previous engine's Caddy
// may still be letting go of the demo's ports when the next engine's starts.
func waitFree(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		l, err := net.Listen("tcp", addr)
		if err == nil {
			return l.Close()
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
