package cors

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/caddy-cors/cors/internal/check"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "cors",
		Usage: "check <url> --origin <origin> [--method <method>] [--header 'Name: value']... [--credentials] [--body-type <content-type>] [--browser chromium|firefox|safari]",
		Short: "Explains the CORS errors a browser would report",
		Long: `
Tools for Cross-Origin Resource Sharing, from the http.handlers.cors module.

'caddy cors check' makes the requests a browser makes for one fetch() call
from a page at --origin, applies the browser's checks (the Fetch standard,
which Chromium, Firefox and Safari implement alike) and prints each step: the
requests sent, the CORS headers received, the verdict, the message the
console of the --browser would show, and what to change on the server. It
works against any HTTP server.
`,
		CobraFunc: func(cmd *cobra.Command) {
			sub := &cobra.Command{
				Use:   "check <url> --origin <origin> [--method <method>] [--header 'Name: value']... [--credentials] [--body-type <content-type>] [--browser chromium|firefox|safari]",
				Short: "Replays a cross-origin fetch() as a browser would and explains the verdict",
				Long: `
Replays fetch(<url>, {method, headers, credentials, body}) as a browser would
for a page at --origin:

1. decides whether the browser sends a CORS preflight (a method other than
   GET, HEAD and POST, or a request header that is not CORS-safelisted);
2. sends the preflight exactly as Chromium does (OPTIONS, Origin,
   Access-Control-Request-Method, Access-Control-Request-Headers; no
   credentials; redirects refused) and checks the answer;
3. sends the actual request and checks the answer, following redirects the
   way a CORS fetch does;
4. lists the response headers the script can read.

The actual request is really sent, as the browser would send it: with
--method DELETE the server deletes. No cookies are sent: --credentials makes
the checks those of credentials: "include".

--header may be repeated; --body-type sets the Content-Type of a body (the
method then defaults to POST). --browser chooses whose console messages are
printed: chromium (the default; also Chrome and Edge), firefox or safari.

When the URL's host is a loopback or private address (an IP address or
localhost) and the page's origin is public, the report also says that
Chromium asks the user's permission first (Local Network Access), whatever
the CORS headers say, and that a denial reads like a CORS error.

Exit status: 0 when the browser lets the script read the response, 1 when it
blocks it, 2 on bad usage or a network error.
`,
				Example: `  $ caddy cors check https://api.example.com/items --origin https://app.example.com
  $ caddy cors check https://api.example.com/items/7 --origin https://app.example.com --method DELETE --credentials
  $ caddy cors check https://api.example.com/items --origin https://app.example.com --body-type application/json --header 'Authorization: Bearer x'`,
				RunE: runCheck,
			}
			sub.Flags().String("origin", "", "Origin of the page making the request, e.g. https://app.example.com (required)")
			sub.Flags().String("method", "", "Request method (default GET, or POST with --body-type)")
			sub.Flags().StringArray("header", nil, "Request header set by the script, 'Name: value' (repeatable)")
			sub.Flags().Bool("credentials", false, "Check as fetch() with credentials: \"include\"")
			sub.Flags().String("body-type", "", "Content-Type of the request body; implies a body")
			sub.Flags().String("browser", "chromium", "Whose console messages to print: "+strings.Join(check.Browsers, ", "))
			sub.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
				return exitStatus(cmd, nil, check.ExitError, err)
			})
			cmd.AddCommand(sub)
		},
	})
}

// errBlocked ends the process with status 1 without printing anything
// more: the report already says why. caddycmd.Main exits 1 on any error.
var errBlocked = errors.New("a browser would block this request")

// runCheck is the cobra front of check.Run.
func runCheck(cmd *cobra.Command, args []string) error {
	fl := cmd.Flags()
	in := check.Request{}
	in.Origin, _ = fl.GetString("origin")
	in.Method, _ = fl.GetString("method")
	in.Headers, _ = fl.GetStringArray("header")
	in.Credentials, _ = fl.GetBool("credentials")
	in.BodyType, _ = fl.GetString("body-type")
	in.Browser, _ = fl.GetString("browser")
	switch len(args) {
	case 0:
	case 1:
		in.URL = args[0]
	default:
		return exitStatus(cmd, args, check.ExitError, errors.New("one URL only: caddy cors check <url> --origin <origin>"))
	}
	client := &http.Client{Timeout: checkTimeout}
	code, err := check.Run(cmd.Context(), client, cmd.OutOrStdout(), in)
	return exitStatus(cmd, args, code, err)
}

// checkTimeout bounds each request of a check: a server that has not
// answered by then is a network error (exit status 2), not a hang. A
// variable, so that a test need not wait this long.
var checkTimeout = 30 * time.Second

// exitStatus turns an exit status into what caddycmd.Main understands:
// nil for 0, a silent error for 1, and for 2 the error caddycmd builds
// itself, the only way to make Main exit with a status other than 0 or 1.
func exitStatus(cmd *cobra.Command, args []string, code int, err error) error {
	switch code {
	case check.ExitAllowed:
		return nil
	case check.ExitBlocked:
		cmd.SilenceErrors = true
		return errBlocked
	}
	if err == nil {
		err = errors.New("check failed")
	}
	return caddycmd.WrapCommandFuncForCobra(func(caddycmd.Flags) (int, error) {
		return code, err
	})(cmd, args)
}
