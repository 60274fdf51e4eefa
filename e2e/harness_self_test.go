package e2e

import (
	"os"
	"path/filepath"
	"testing"
)

// TestHarness proves the judge itself with Caddy's plain header directive and
// no cors module: the harness must tell an allowed response from a refused
// one, count preflights, and catch the browser's console message. A failure
// here is a broken harness or browser, not a broken module.
func TestHarness(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		for _, sc := range harnessScenarios {
			t.Run(sc.name, func(t *testing.T) { sc.run(t, e) })
		}
	})
}

var harnessScenarios = []scenario{
	{
		name: "response with a matching Access-Control-Allow-Origin is readable",
		api: `header Access-Control-Allow-Origin {{.AppOrigin}}
				respond "hello"`,
		js:   `return probe(API + "/x")`,
		want: []want{{status: 200, body: "hello"}},
		log:  []string{"GET /x 200"},
	},
	{
		name: "response without Access-Control-Allow-Origin is a network error yet reaches the server",
		api:  `respond "hello"`,
		js:   `return probe(API + "/x")`,
		want: []want{{blocked: true}},
		log:  []string{"GET /x 200"},
	},
	{
		name: "a refused preflight stops the actual request and names the method",
		api: `@preflight method OPTIONS
				handle @preflight {
					header Access-Control-Allow-Origin {{.AppOrigin}}
					header Access-Control-Allow-Methods PUT
					respond 204
				}
				respond "hello"`,
		js:      `return probe(API + "/x", {method: "DELETE"})`,
		want:    []want{{blocked: true}},
		log:     []string{"OPTIONS /x 204"},
		console: refusedMethod("DELETE"),
	},
}

// TestFindChromiumHonoursChromePath pins that $CHROME_PATH wins over the
// system's browser, and that a CHROME_PATH naming nothing is ignored.
func TestFindChromiumHonoursChromePath(t *testing.T) {
	fake := filepath.Join(t.TempDir(), "my-chrome")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CHROME_PATH", fake)
	if got := findChromium(); got != fake {
		t.Errorf("findChromium() = %q with CHROME_PATH=%q", got, fake)
	}
	t.Setenv("CHROME_PATH", filepath.Join(t.TempDir(), "missing"))
	t.Setenv("PATH", t.TempDir())
	if got := findChromium(); got != "" && got != "/usr/bin/chromium" {
		t.Errorf("findChromium() = %q with a CHROME_PATH naming nothing and an empty PATH", got)
	}
}
