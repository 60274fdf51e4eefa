package cors

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddytest"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

var update = flag.Bool("update", false, "rewrite the expected JSON of testdata/caddyfile_adapt")

const adaptSeparator = "----------"

// TestCaddyfileAdapt pins the JSON each subdirective adapts to. Each file of
// testdata/caddyfile_adapt holds a Caddyfile, a separator line and the JSON;
// `go test -run TestCaddyfileAdapt -update` rewrites the JSON after a change
// that is meant to alter it.
func TestCaddyfileAdapt(t *testing.T) {
	files, err := filepath.Glob("testdata/caddyfile_adapt/*.caddyfiletest")
	if err != nil || len(files) == 0 {
		t.Fatalf("no adapt tests found: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".caddyfiletest"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			input, expected, _ := strings.Cut(string(data), adaptSeparator+"\n")
			if *update {
				out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(input), nil)
				if err != nil {
					t.Fatal(err)
				}
				var pretty bytes.Buffer
				if err := json.Indent(&pretty, out, "", "\t"); err != nil {
					t.Fatal(err)
				}
				expected = pretty.String()
				if err := os.WriteFile(file, []byte(input+adaptSeparator+"\n"+expected+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if !caddytest.CompareAdapt(t, file, input, "caddyfile", strings.TrimSuffix(expected, "\n")) {
				t.Errorf("%s: adapted JSON differs (see diff above)", file)
			}
		})
	}
}

// TestCaddyfileErrors pins that each mistake fails `caddy adapt` and a real
// Caddy's config load with the file, the line, the bad token and what to
// write instead.
func TestCaddyfileErrors(t *testing.T) {
	tests := []struct {
		name  string
		block string // the cors directive, starting on line 2 of the site
		want  []string
	}{
		{"UnknownSubdirective", "cors {\n\t\torigin https://a.com\n\t}",
			[]string{`unknown subdirective "origin": did you mean origins? write one of origins,`, "Caddyfile:3"}},
		{"ListWithoutValues", "cors {\n\t\tmethods\n\t}",
			[]string{"methods needs at least one value, e.g. methods GET POST PUT DELETE", "Caddyfile:3"}},
		{"SingleValuedTwice", "cors https://a.com {\n\t\tmax_age 1m\n\t\tmax_age 2m\n\t}",
			[]string{"max_age is given twice: keep one", "Caddyfile:4"}},
		{"FlagTwice", "cors https://a.com {\n\t\tpreflight_passthrough\n\t\tpreflight_passthrough\n\t}",
			[]string{"preflight_passthrough is given twice", "Caddyfile:4"}},
		{"FlagWithValue", "cors https://a.com {\n\t\tallow_private_network yes\n\t}",
			[]string{`allow_private_network takes no value, not "yes"`, "Caddyfile:3"}},
		{"CredentialsWithBadValue", "cors https://a.com {\n\t\tallow_credentials yes\n\t}",
			[]string{`allow_credentials takes no value, or true or false, not "yes"`, "Caddyfile:3"}},
		{"MaxAgeNotADuration", "cors {\n\t\tmax_age soon\n\t}",
			[]string{`max_age "soon"`, "write a duration such as 10m", "Caddyfile:3"}},
		{"MaxAgeNegative", "cors {\n\t\tmax_age -5\n\t}",
			[]string{"max_age: -5s is negative", "Caddyfile:3"}},
		{"MaxAgeFractional", "cors {\n\t\tmax_age 1.5s\n\t}",
			[]string{"max_age: 1.5s is not whole seconds", "Caddyfile:3"}},
		{"MaxAgeTwoValues", "cors {\n\t\tmax_age 1 2\n\t}",
			[]string{"max_age takes one duration", "Caddyfile:3"}},
		{"PreflightStatusNotOK", "cors {\n\t\tpreflight_status 301\n\t}",
			[]string{"preflight_status: 301 is not a 2xx status", "write 204 or 200", "Caddyfile:3"}},
		{"PreflightStatusNotANumber", "cors {\n\t\tpreflight_status ok\n\t}",
			[]string{"preflight_status takes one status code", "Caddyfile:3"}},
		{"StarWithCredentialsAtDirective", "cors {\n\t\torigins *\n\t\tallow_credentials\n\t}",
			[]string{"allow_credentials: credentials need explicit origins", "Caddyfile:2"}},
		{"NoOriginWithCredentialsAtDirective", "cors {\n\t\tallow_credentials\n\t}",
			[]string{"allow_credentials: credentials need explicit origins", "Caddyfile:2"}},
		{"OriginWithPathAtItsLine", "cors {\n\t\torigins https://a.com\n\t\torigins https://b.com/api\n\t}",
			[]string{`"https://b.com/api": an origin has no path, query or fragment; write "https://b.com"`, "Caddyfile:4"}},
		{"OriginOnDirectiveLine", "cors https://a.com/",
			[]string{`write "https://a.com"`, "Caddyfile:2"}},
		{"StarBesideOrigins", "cors {\n\t\torigins * https://a.com\n\t}",
			[]string{`"*" already allows every origin`, "Caddyfile:3"}},
		{"ForbiddenMethod", "cors {\n\t\tmethods GET TRACE\n\t}",
			[]string{`methods: "TRACE" is a method browsers never let a script send`, "Caddyfile:3"}},
		{"ForbiddenHeader", "cors {\n\t\tallowed_headers Content-Type\n\t\tallowed_headers Cookie\n\t}",
			[]string{`allowed_headers: "Cookie" is a header browsers never let a script set`, "Caddyfile:4"}},
		{"ExposedSetCookie", "cors {\n\t\texposed_headers Set-Cookie\n\t}",
			[]string{`exposed_headers: "Set-Cookie" is never exposed`, "Caddyfile:3"}},
		{"ExposedStarWithCredentials", "cors https://a.com {\n\t\texposed_headers *\n\t\tallow_credentials\n\t}",
			[]string{`exposed_headers: "*" exposes nothing when credentials are allowed`, "Caddyfile:3"}},
		{"PublicSuffixWithCredentials", "cors https://*.github.io {\n\t\tallow_credentials\n\t}",
			[]string{`public suffix "github.io"`, "Caddyfile:2"}},
		{"PrivateNetworkWithAnyOriginAtDirective", "cors {\n\t\tallow_private_network\n\t}",
			[]string{"allow_private_network: private network access needs explicit origins", "Caddyfile:2"}},
		{"BadRegexp", "cors {\n\t\torigin_regexp https://(a\n\t}",
			[]string{`origin_regexp: "https://(a" is not an RE2 regular expression`, "Caddyfile:3"}},
		{"FileOrigin", "cors file://",
			[]string{`"file://": browsers send the origin of file:// pages as "null"`, "Caddyfile:2"}},
		{"ReportOnlyWithPassthrough", "cors https://a.com {\n\t\tpreflight_passthrough\n\t\treport_only\n\t}",
			[]string{"report_only: report_only already passes every preflight on untouched", "remove preflight_passthrough", "Caddyfile:4"}},
		{"ReportOnlyWithPreflightStatus", "cors https://a.com {\n\t\treport_only\n\t\tpreflight_status 200\n\t}",
			[]string{"report_only: report_only never answers a preflight, so preflight_status 200 would never be used", "Caddyfile:3"}},
		{"ReportOnlyWithValue", "cors https://a.com {\n\t\treport_only yes\n\t}",
			[]string{`report_only takes no value, not "yes": write report_only alone`, "Caddyfile:3"}},
		{"ReportOnlyKeepsNormalErrors", "cors {\n\t\treport_only\n\t\tallow_credentials\n\t}",
			[]string{"allow_credentials: credentials need explicit origins", "Caddyfile:2"}},
		{"EveryErrorAtOnce", "cors https://a.com/ {\n\t\tmethods TRACE\n\t\tbogus\n\t}",
			[]string{`write "https://a.com", at Caddyfile:2`, `"TRACE" is a method browsers never let a script send (Fetch forbids it): remove it, at Caddyfile:3`, `unknown subdirective "bogus"`}},
	}
	adapter := caddyconfig.GetAdapter("caddyfile")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input := ":80 {\n\t" + tt.block + "\n}\n"
			_, _, err := adapter.Adapt([]byte(input), nil)
			if err == nil {
				t.Fatalf("adapting succeeded:\n%s", input)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not contain %q:\n%v", want, err)
				}
			}
			// The same through a real Caddy's admin API, which answers
			// with the error in JSON, after the global options block.
			offset := strings.Count(caddyGlobals, "\n")
			for _, want := range tt.want {
				want = lineRE.ReplaceAllStringFunc(want, func(at string) string {
					n, _ := strconv.Atoi(strings.TrimPrefix(at, "Caddyfile:"))
					return "Caddyfile:" + strconv.Itoa(n+offset)
				})
				caddytest.AssertLoadError(t, caddyGlobals+input, "caddyfile", strings.ReplaceAll(want, `"`, `\"`))
			}
		})
	}
}

var lineRE = regexp.MustCompile(`Caddyfile:\d+`)
