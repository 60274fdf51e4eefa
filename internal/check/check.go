// Package check is `caddy cors check`: it replays what a browser does for one
// fetch() call and explains, step by step, why the script may or may not read
// the response. It follows the Fetch standard ("CORS protocol", "CORS-preflight
// fetch", "CORS check", "HTTP-redirect fetch") and prints the messages
// Chromium, Firefox or Safari writes to the console, which the project's
// browser suite checks against Chromium 156, Firefox ESR 153 and WebKitGTK
// 2.50 (browser.go). It
// talks only HTTP, so it works against any server, with or without the cors
// module.
//
// The package reads top to bottom as the browser works: plan.go validates the
// call as fetch() does, runner.go sends the preflight and the request and
// follows redirects, verdict.go holds the browser's checks and its console
// messages, origin.go the origin and site arithmetic, and fix.go says what to
// change on the server. The Fetch rules it shares with the module (tokens,
// safelists, forbidden headers) live in internal/fetch.
package check

import (
	"context"
	"io"
	"net/http"
)

// Exit statuses of the check, the contract of the command.
const (
	ExitAllowed = 0 // a browser lets the script read the response
	ExitBlocked = 1 // a browser blocks it
	ExitError   = 2 // bad usage or a network error: no verdict
)

// Request is the fetch() call to replay, as the user wrote it.
type Request struct {
	URL         string   // the resource
	Origin      string   // the origin of the page making the call
	Method      string   // as written; empty means GET, or POST with a body
	Headers     []string // "Name: value", one header list entry each
	Credentials bool     // credentials: "include"
	BodyType    string   // Content-Type of the body; empty means no body
	Browser     string   // whose console to speak for: one of Browsers; empty means chromium
}

// Run replays the fetch() described by in, writes the explanation to w
// and returns the exit status: ExitAllowed, ExitBlocked, or
// ExitError with the error that prevented a verdict. The client's
// redirect policy and cookie jar are not used: redirects are followed here,
// by the rules of a CORS fetch, and no cookies are sent.
func Run(ctx context.Context, client *http.Client, w io.Writer, in Request) (int, error) {
	p, err := prepare(in)
	if err != nil {
		return ExitError, err
	}
	b, err := parseBrowser(in.Browser)
	if err != nil {
		return ExitError, err
	}
	c := &runner{ctx: ctx, w: w, plan: p, browser: b}
	hc := *client
	hc.Jar = nil
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.client = &hc
	return c.run()
}
