package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sync"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumFlags are the flags every Chromium of the suite runs with. The
// allocator adds --remote-debugging-pipe and about:blank itself.
var chromiumFlags = []chromedp.ExecAllocatorOption{
	chromedp.Flag("headless", true),
	chromedp.Flag("no-sandbox", true),
	chromedp.Flag("disable-gpu", true),
	chromedp.Flag("no-first-run", true),
	chromedp.Flag("disable-background-networking", true),
	chromedp.Flag("disable-component-update", true),
	chromedp.Flag("disable-sync", true),
	// Test host names resolve to loopback, so that http://app.example.test
	// and http://api.example.test are two origins of one site: cookies flow
	// between them as they do between a real app and its API.
	chromedp.Flag("host-resolver-rules", "MAP *.example.test 127.0.0.1"),
}

// findChromium returns the browser to drive, or "" when there is none:
// $CHROME_PATH first (the variable chromedp and Puppeteer users know), then
// the names Debian, Ubuntu and Google give it.
func findChromium() string {
	if p := os.Getenv("CHROME_PATH"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// chromiumEngine drives Chromium over the DevTools protocol (chromedp). Each
// open gets its own browser context, an in-memory profile.
type chromiumEngine struct {
	browser context.Context

	mu   sync.Mutex
	next chan *tab // the next browser context, made while a scenario runs
}

// startChromium launches one Chromium with a fresh profile and waits until it
// answers, so that the first scenario does not pay for the start.
func startChromium(tmp, name string, extra ...chromedp.ExecAllocatorOption) (engine, func(), error) {
	path := findChromium()
	if path == "" {
		return nil, nil, errMissing{"Chromium (looked at $CHROME_PATH, /usr/bin/chromium, and for chromium, chromium-browser and google-chrome on PATH)"}
	}
	profile, err := os.MkdirTemp(tmp, "chromium-"+name+"-")
	if err != nil {
		return nil, nil, err
	}
	opts := append(slices.Clone(chromiumFlags), chromedp.ExecPath(path), chromedp.UserDataDir(profile))
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	stop := func() { cancelBrowser(); cancelAlloc() }
	if err := chromedp.Do(ctx); err != nil {
		stop()
		return nil, nil, fmt.Errorf("starting %s: %w", path, err)
	}
	c := &chromiumEngine{browser: ctx}
	c.next = c.makeTab()
	return c, stop, nil
}

func (c *chromiumEngine) name() string { return chromium }

// tab is a browser context and its blank page.
type tab struct {
	ctx    context.Context
	cancel func()
	err    error // from making the browser context
}

// makeTab makes a browser context in the background: it takes Chromium
// about a second, most of the time of a scenario.
func (c *chromiumEngine) makeTab() chan *tab {
	ch := make(chan *tab, 1)
	go func() {
		ctx, cancel := chromedp.NewContext(c.browser, chromedp.WithNewBrowserContext())
		tb := &tab{ctx: ctx, cancel: cancel}
		tb.err = chromedp.Do(ctx) // creates the context and its blank tab
		ch <- tb
	}()
	return ch
}

func (c *chromiumEngine) open(url string, log *consoleLog) (func(), error) {
	c.mu.Lock()
	next := c.next
	c.next = c.makeTab()
	c.mu.Unlock()
	tb := <-next
	if tb.err != nil {
		tb.cancel()
		return nil, fmt.Errorf("opening a browser context: %w", tb.err)
	}
	ctx, cancelTimeout := context.WithTimeout(tb.ctx, 45*time.Second)
	closeTab := func() { cancelTimeout(); tb.cancel() }
	// Console subscribes at once, so no message of the navigation is lost.
	console := chromedp.Console(ctx)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			log.add(m.Text)
		}
	}()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		closeTab()
		return nil, fmt.Errorf("opening %s: %w", url, err)
	}
	return closeTab, nil
}
