package e2e

import (
	"encoding/binary"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
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

// TestXvfbAcceptsAClientRightAfterTheLastLeft pins the display WebKit's
// scenarios run on: each MiniBrowser is the display's only client, and the
// next one connects as soon as the last is gone. An X server that resets
// between them drops some of those connections, which failed a scenario
// with "cannot open display" about one WebKit run in two on a loaded machine.
func TestXvfbAcceptsAClientRightAfterTheLastLeft(t *testing.T) {
	if _, err := exec.LookPath("Xvfb"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("Xvfb is missing: apt-get install -y xvfb")
		}
		t.Skip("Xvfb is missing: apt-get install -y xvfb")
	}
	display, stop, err := startXvfb()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	// The connection setup of the X protocol, version 11.0, little-endian,
	// without authorization: the server answers 1 (success) first.
	setup := make([]byte, 12)
	setup[0] = 'l'
	binary.LittleEndian.PutUint16(setup[2:], 11)
	failed := 0
	for range 200 {
		// Linux's abstract socket, which X clients try first.
		c, err := net.Dial("unix", "@/tmp/.X11-unix/X"+display[1:])
		if err != nil {
			failed++
			continue
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		reply := make([]byte, 8)
		if _, err := c.Write(setup); err != nil {
			failed++
		} else if _, err := c.Read(reply); err != nil || reply[0] != 1 {
			failed++
		}
		c.Close()
	}
	if failed > 0 {
		t.Errorf("%d of 200 connections, each opened after the last closed, failed", failed)
	}
}
