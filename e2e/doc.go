// Package e2e proves the cors directive in the only judge that counts: a real
// browser. Each test starts Caddy in-process from a Caddyfile, drives headless
// Chromium through the Chrome DevTools Protocol, runs fetch() and
// XMLHttpRequest from a page on one origin against an API on another, and
// compares what the script could observe and what reached the server with what
// the project's design page (docs/design.md) promises.
//
// It is a module of its own so that users of github.com/caddy-cors/cors never
// download chromedp. Run it from the repository root with
//
//	go -C e2e test
//
// (the README's test command runs it too). It needs Chromium (apt-get install
// -y chromium; found as $CHROME_PATH, chromium, chromium-browser or
// google-chrome). Without one the tests skip, unless the environment variable
// CI is set: then they fail.
package e2e
