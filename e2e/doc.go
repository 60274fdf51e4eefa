// Package e2e proves the cors directive in the only judges that count: real
// browsers, in the three engines users' visitors run. Each test starts Caddy
// in-process from a Caddyfile, opens a page on one origin in Chromium (over the
// DevTools protocol), Firefox (over WebDriver BiDi) or WebKitGTK's MiniBrowser,
// runs fetch() and XMLHttpRequest there against an API on another origin, and
// compares what the script could observe, what reached the server and what the
// engine wrote to its console with what the project's design page
// (docs/design.md) promises. One list of scenarios serves all three engines;
// a scenario states an engine's own expectation only where engines
// legitimately differ (console wording, preflight caching).
//
// It is a module of its own so that users of github.com/caddy-cors/cors never
// download chromedp. Run it from the repository root with
//
//	go -C e2e test
//
// (the README's test command runs it too). It needs the engines from Debian:
//
//	apt-get install -y chromium firefox-esr webkit2gtk-driver xvfb xauth
//
// Chromium is found as $CHROME_PATH, chromium, chromium-browser or
// google-chrome; Firefox as $FIREFOX_PATH or firefox-esr; MiniBrowser as
// $MINIBROWSER_PATH or under /usr/lib/*/webkit2gtk-4.1. A missing engine's
// tests skip, saying what to install, unless the environment variable CI is
// set: then they fail.
package e2e
