package cors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// The documents whose examples these tests check: every ```caddyfile and
// ```json block, and every `caddy cors check` transcript.
var documents = []string{"README.md", "docs/*.md"}

// block is one fenced code block of a Markdown document.
type block struct {
	file string
	line int    // of the opening fence
	lang string // the fence's info string: caddyfile, json, sh, ...
	body string
}

func (b block) String() string { return fmt.Sprintf("%s:%d", b.file, b.line) }

// docBlocks returns the fenced blocks of the documents, in order.
func docBlocks(t *testing.T) []block {
	t.Helper()
	var blocks []block
	for _, pattern := range documents {
		files, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var cur *block
			for i, line := range strings.Split(string(data), "\n") {
				switch {
				case cur == nil && strings.HasPrefix(line, "```"):
					cur = &block{file: file, line: i + 1, lang: strings.TrimSpace(strings.TrimPrefix(line, "```"))}
				case cur != nil && strings.TrimSpace(line) == "```":
					blocks = append(blocks, *cur)
					cur = nil
				case cur != nil:
					cur.body += line + "\n"
				}
			}
			if cur != nil {
				t.Fatalf("%s: the code block is never closed", cur)
			}
		}
	}
	return blocks
}

// grammarPlaceholder marks a syntax template rather than a config: a block
// that shows `<origin>...` or `[<matcher>]` explains the grammar and is not
// adapted.
var grammarPlaceholder = regexp.MustCompile(`<[a-z_]+>`)

// TestDocsCaddyfilesAdapt adapts every ```caddyfile block of the README and
// docs/ as Caddy would (failing on adapter warnings too, such as an
// unformatted Caddyfile) and loads the result without starting it, so that
// no example a user copies can be broken. Two rules decide what a block is:
//   - a block with a <placeholder> is the directive's grammar: skipped;
//   - a block whose first line does not open a block ("example.com {",
//     "{", "(snippet) {") is a fragment of a site: it is adapted inside
//     "example.com { ... }".
//
// Blocks may use {$ALLOWED_ORIGINS}, set here as the recipe shows.
func TestDocsCaddyfilesAdapt(t *testing.T) {
	t.Setenv("ALLOWED_ORIGINS", "https://app.example.com https://admin.example.com")
	writeDocsOriginList(t)
	n := 0
	for _, b := range docBlocks(t) {
		if b.lang != "caddyfile" || grammarPlaceholder.MatchString(b.body) {
			continue
		}
		n++
		t.Run(b.String(), func(t *testing.T) {
			input := b.body
			if first := firstLine(input); !strings.HasSuffix(first, "{") {
				input = "example.com {\n" + indentBlock(input) + "}\n"
			}
			cfg, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(input), map[string]any{"filename": b.String()})
			if err != nil {
				t.Fatalf("%s does not adapt: %v\n%s", b, err, input)
			}
			for _, w := range warnings {
				t.Errorf("%s: adapter warning: %s", b, w.String())
			}
			validate(t, b, cfg)
		})
	}
	if n == 0 {
		t.Fatal("no caddyfile blocks found")
	}
}

// writeDocsOriginList writes the origin list the storage recipe of
// docs/origin-sources.md reads, into the default storage the tests use.
func writeDocsOriginList(t *testing.T) {
	t.Helper()
	key := filepath.Join(caddy.DefaultStorage.Path, "cors", "origins.txt")
	if err := os.MkdirAll(filepath.Dir(key), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, []byte("https://app.example.com\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(key) })
}

// TestDocsJSONLoads loads every ```json block of the README and docs/: a
// whole config (with "apps") as Caddy would load it, without starting it; a
// handler object ("handler": "cors") as the module inside a route.
func TestDocsJSONLoads(t *testing.T) {
	n := 0
	for _, b := range docBlocks(t) {
		if b.lang != "json" {
			continue
		}
		n++
		t.Run(b.String(), func(t *testing.T) {
			var doc map[string]any
			if err := json.Unmarshal([]byte(b.body), &doc); err != nil {
				t.Fatalf("%s is not JSON: %v", b, err)
			}
			cfg := []byte(b.body)
			switch {
			case doc["apps"] != nil:
			case doc["handler"] == "cors":
				cfg = fmt.Appendf(nil, `{"apps":{"http":{"servers":{"s":{"listen":["127.0.0.1:0"],"routes":[{"handle":[%s]}]}}}}}`, b.body)
			default:
				t.Fatalf("%s is neither a whole config nor a cors handler", b)
			}
			validate(t, b, cfg)
		})
	}
	if n == 0 {
		t.Fatal("no json blocks found")
	}
}

// validate provisions and validates cfg as `caddy validate` does: every
// module is loaded (so the cors module's own checks run), nothing is started.
func validate(t *testing.T, b block, cfg []byte) {
	t.Helper()
	var c caddy.Config
	if err := caddy.StrictUnmarshalJSON(cfg, &c); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if err := caddy.Validate(&c); err != nil {
		t.Fatalf("%s does not load: %v\n%s", b, err, cfg)
	}
}

func firstLine(s string) string {
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			return line
		}
	}
	return ""
}

func indentBlock(s string) string {
	var out strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		if strings.TrimSpace(line) != "" {
			out.WriteString("\t")
		}
		out.WriteString(line)
	}
	return out.String()
}

// TestRecipeEnvironmentOrigins pins what docs/caddy.md says of origins from
// an environment variable: {$VAR} is replaced before the Caddyfile is split
// into tokens, so a space-separated value is several origins; unset, it is
// nothing, which `origins` refuses and a bare `cors` takes as any origin;
// {env.VAR} is a runtime placeholder the module does not expand.
func TestRecipeEnvironmentOrigins(t *testing.T) {
	adapt := func(t *testing.T, body string) ([]byte, error) {
		t.Helper()
		cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte("example.com {\n"+body+"}\n"), nil)
		return cfg, err
	}
	origins := func(t *testing.T, cfg []byte) []string {
		t.Helper()
		m := regexp.MustCompile(`"handler":"cors"(?:,"origins":(\[[^\]]*\]))?`).FindSubmatch(cfg)
		if m == nil {
			t.Fatalf("no cors handler in %s", cfg)
		}
		var list []string
		if m[1] != nil {
			if err := json.Unmarshal(m[1], &list); err != nil {
				t.Fatal(err)
			}
		}
		return list
	}

	t.Run("SpaceSeparatedValueIsSeveralOrigins", func(t *testing.T) {
		t.Setenv("ALLOWED_ORIGINS", "https://app.example.com  https://admin.example.com")
		for _, body := range []string{"\tcors {$ALLOWED_ORIGINS}\n", "\tcors {\n\t\torigins {$ALLOWED_ORIGINS}\n\t}\n"} {
			cfg, err := adapt(t, body)
			if err != nil {
				t.Fatal(err)
			}
			if got := origins(t, cfg); strings.Join(got, " ") != "https://app.example.com https://admin.example.com" {
				t.Errorf("%q: origins %q, want the two origins", body, got)
			}
		}
	})
	t.Run("UnsetVariableInOriginsIsAnError", func(t *testing.T) {
		unsetenv(t, "ALLOWED_ORIGINS")
		if _, err := adapt(t, "\tcors {\n\t\torigins {$ALLOWED_ORIGINS}\n\t}\n"); err == nil || !strings.Contains(err.Error(), "origins needs at least one value") {
			t.Errorf("err = %v, want origins needs at least one value", err)
		}
	})
	t.Run("UnsetVariableOnTheDirectiveLineIsAnyOrigin", func(t *testing.T) {
		unsetenv(t, "ALLOWED_ORIGINS")
		cfg, err := adapt(t, "\tcors {$ALLOWED_ORIGINS}\n")
		if err != nil {
			t.Fatal(err)
		}
		if got := origins(t, cfg); len(got) != 0 {
			t.Errorf("origins %q, want none (any origin)", got)
		}
	})
	t.Run("DefaultValueApplies", func(t *testing.T) {
		unsetenv(t, "ALLOWED_ORIGINS")
		cfg, err := adapt(t, "\tcors {\n\t\torigins {$ALLOWED_ORIGINS:https://app.example.com}\n\t}\n")
		if err != nil {
			t.Fatal(err)
		}
		if got := origins(t, cfg); strings.Join(got, " ") != "https://app.example.com" {
			t.Errorf("origins %q, want the default", got)
		}
	})
	t.Run("RuntimePlaceholderIsRefused", func(t *testing.T) {
		t.Setenv("ALLOWED_ORIGINS", "https://app.example.com")
		cfg, err := adapt(t, "\tcors {env.ALLOWED_ORIGINS}\n")
		if err == nil {
			var c caddy.Config
			if err = caddy.StrictUnmarshalJSON(cfg, &c); err == nil {
				err = caddy.Validate(&c)
			}
		}
		if err == nil {
			t.Fatal("{env.ALLOWED_ORIGINS} loaded; the module does not expand placeholders in origins")
		}
	})
}

// transcript is a shell session shown in a document: a command, its output
// and its exit status (shown as `$ echo $?`).
type transcript struct {
	block
	args   []string // after "caddy"
	output string
	status int
}

// docTranscripts returns the `caddy ...` transcripts of the documents: a
// block without a language whose first line is "$ caddy ". A command may end
// in "| grep WORD", which keeps the lines containing WORD. A `caddy cors
// check` transcript ends with `$ echo $?` and the status, which the command
// is for; another command without it must exit 0.
func docTranscripts(t *testing.T) []transcript {
	t.Helper()
	var out []transcript
	for _, b := range docBlocks(t) {
		cmd, rest, _ := strings.Cut(b.body, "\n")
		if b.lang != "" || !strings.HasPrefix(cmd, "$ caddy ") {
			continue
		}
		output, status, ok := strings.Cut(rest, "$ echo $?\n")
		if !ok && strings.HasPrefix(cmd, "$ caddy cors check ") {
			t.Fatalf("%s: a transcript ends with `$ echo $?` and the status", b)
		}
		if !ok {
			status = "0"
		}
		code, err := strconv.Atoi(strings.TrimSpace(status))
		if err != nil {
			t.Fatalf("%s: status %q: %v", b, status, err)
		}
		out = append(out, transcript{block: b, args: strings.Fields(strings.TrimPrefix(cmd, "$ caddy ")), output: output, status: code})
	}
	return out
}

// TestReadmeCheckTranscripts runs the demo's Caddyfile in a real Caddy built
// from ./cmd/caddy, replays each `caddy` transcript of the documents (`caddy
// cors check` against the demo, `caddy list-modules | grep cors`) with the
// same binary, and compares the output and
// exit status with what the document shows. The demo's ports 8080 and 8081
// are moved to free ones (in the Caddyfile, the command and back in the
// output) so that the test never needs them. Caddy runs with an empty home
// directory, which must still be empty when it stops: the demo writes
// nothing there.
func TestReadmeCheckTranscripts(t *testing.T) {
	transcripts := docTranscripts(t)
	if len(transcripts) == 0 {
		t.Fatal("no `caddy` transcripts found")
	}
	bin := buildCaddy(t)

	demo, err := os.ReadFile("Caddyfile.example")
	if err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, 2)
	page, api := ports[0], ports[1]
	toTest := strings.NewReplacer(":8080", ":"+page, ":8081", ":"+api)
	fromTest := strings.NewReplacer(":"+page, ":8080", ":"+api, ":8081")
	dir := t.TempDir()
	caddyfile := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(caddyfile, []byte(toTest.Replace(string(demo))), 0o644); err != nil {
		t.Fatal(err)
	}
	home, env := emptyHome(t, dir)

	log, exited, stop := startCaddy(t, bin, caddyfile, env)
	defer stop()
	waitHTTP(t, "http://127.0.0.1:"+api+"/api/hello", exited, log)

	for _, tr := range transcripts {
		t.Run(tr.String(), func(t *testing.T) {
			command, grep, piped := strings.Cut(strings.Join(tr.args, " "), " | grep ")
			args := strings.Fields(toTest.Replace(command))
			cmd := exec.Command(bin, args...)
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if piped {
				var kept []byte
				for _, line := range bytes.SplitAfter(out, []byte("\n")) {
					if bytes.Contains(line, []byte(strings.TrimSpace(grep))) {
						kept = append(kept, line...)
					}
				}
				out = kept
			}
			status := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				status = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if got := fromTest.Replace(string(out)); got != tr.output {
				t.Errorf("%s: the output of `caddy %s` differs from the document:\n%s", tr, strings.Join(tr.args, " "), lineDiff(tr.output, got))
			}
			if status != tr.status {
				t.Errorf("%s: exit status %d, the document says %d", tr, status, tr.status)
			}
		})
	}

	stop()
	var written []string
	filepath.WalkDir(home, func(path string, d os.DirEntry, err error) error {
		if path != home {
			written = append(written, strings.TrimPrefix(path, home))
		}
		return nil
	})
	if len(written) > 0 {
		t.Errorf("the demo wrote to the home directory: %s", strings.Join(written, ", "))
	}
}

// buildCaddy builds ./cmd/caddy, the demo's Caddy, into a temporary
// directory (the packages are already compiled for the test: it links).
func buildCaddy(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("building ./cmd/caddy needs the go command on PATH: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "caddy")
	if out, err := exec.Command(goTool, "build", "-o", bin, "./cmd/caddy").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/caddy: %v\n%s", err, out)
	}
	return bin
}

// emptyHome makes an empty home directory under dir, and the environment
// that gives it to a Caddy, so that what Caddy writes there is seen and
// removed with the test.
func emptyHome(t *testing.T, dir string) (home string, env []string) {
	t.Helper()
	home = filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	return home, append(withoutEnv(os.Environ(), "HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"), "HOME="+home)
}

// startCaddy runs `caddy run` on a config file, which Caddy adapts when it
// is named Caddyfile. stop ends it as Ctrl-C does; log holds what it wrote on
// stdout and stderr, all of it once stop returns.
func startCaddy(t *testing.T, bin, config string, env []string) (log *bytes.Buffer, exited <-chan error, stop func()) {
	t.Helper()
	log = new(bytes.Buffer)
	server := exec.Command(bin, "run", "--config", config)
	server.Env, server.Stdout, server.Stderr = env, log, log
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- server.Wait() }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			server.Process.Signal(syscall.SIGINT)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				server.Process.Kill()
				<-done
			}
		})
	}
	return log, done, stop
}

// freePorts returns n distinct loopback ports that were free a moment ago:
// each is held until all are chosen, or the kernel could hand out one twice.
func freePorts(t *testing.T, n int) []string {
	t.Helper()
	var ports []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	}
	return ports
}

// waitHTTP waits until url answers, failing with Caddy's log if it exits
// first or takes more than 30 s.
func waitHTTP(t *testing.T, url string, exited <-chan error, log *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return
		}
		select {
		case err := <-exited:
			t.Fatalf("Caddy exited (%v):\n%s", err, log)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("Caddy did not answer %s within 30 s:\n%s", url, log)
		}
	}
}

func withoutEnv(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		keep := true
		for _, n := range names {
			keep = keep && name != n
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}

// unsetenv unsets name for the rest of the test, restoring it after.
func unsetenv(t *testing.T, name string) {
	t.Setenv(name, "")
	os.Unsetenv(name)
}

// lineDiff shows how got differs from want, line by line: "-" for a line
// only want has, "+" for a line only got has (a longest-common-subsequence
// diff, enough for a page of output).
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	// lcs[i][j] is the length of the longest common subsequence of w[i:] and g[j:].
	lcs := make([][]int, len(w)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(g)+1)
	}
	for i := len(w) - 1; i >= 0; i-- {
		for j := len(g) - 1; j >= 0; j-- {
			if w[i] == g[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	i, j := 0, 0
	for i < len(w) || j < len(g) {
		switch {
		case i < len(w) && j < len(g) && w[i] == g[j]:
			fmt.Fprintf(&out, "   %s\n", w[i])
			i, j = i+1, j+1
		case j < len(g) && (i == len(w) || lcs[i][j+1] >= lcs[i+1][j]):
			fmt.Fprintf(&out, " + %s\n", g[j])
			j++
		default:
			fmt.Fprintf(&out, " - %s\n", w[i])
			i++
		}
	}
	return out.String()
}

// TestDocsContainerFilesMatchGoMod checks the ```dockerfile and ```yaml
// blocks of the documents, which cannot run here (the tests have no Docker
// and reach nothing beyond loopback): every Dockerfile builds this module's
// path with xcaddy in the official builder image and copies it into the
// runtime image, both tagged with the Caddy version of go.mod, the one CI
// tests; every Compose file configures the cors directive through labels
// (the Caddyfile those labels produce is shown beside it and adapted by
// TestDocsCaddyfilesAdapt).
func TestDocsContainerFilesMatchGoMod(t *testing.T) {
	gomod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	module := regexp.MustCompile(`(?m)^module (\S+)$`).FindSubmatch(gomod)
	caddyVersion := regexp.MustCompile(`(?m)^\s+github\.com/caddyserver/caddy/v2 v(\S+)$`).FindSubmatch(gomod)
	if module == nil || caddyVersion == nil {
		t.Fatal("go.mod names no module or no Caddy version")
	}
	version := string(caddyVersion[1])
	n := 0
	for _, b := range docBlocks(t) {
		switch b.lang {
		case "dockerfile":
			n++
			for _, want := range []string{
				"FROM caddy:" + version + "-builder AS builder\n",
				"RUN xcaddy build ",
				" --with " + string(module[1]) + "\n",
				"FROM caddy:" + version + "\n",
				"COPY --from=builder /usr/bin/caddy /usr/bin/caddy\n",
			} {
				if !strings.Contains(b.body, want) {
					t.Errorf("%s: the Dockerfile has no %q (go.mod: module %s, Caddy v%s)", b, strings.TrimSpace(want), module[1], version)
				}
			}
			if images := regexp.MustCompile(`caddy:[0-9][^\s-]*`).FindAllString(b.body, -1); len(images) != 2 {
				t.Errorf("%s: images %q, want the builder and the runtime image", b, images)
			}
		case "yaml":
			n++
			if !strings.Contains(b.body, "caddy.cors:") {
				t.Errorf("%s: the Compose file has no caddy.cors label", b)
			}
		}
	}
	if n == 0 {
		t.Fatal("no dockerfile or yaml blocks found")
	}
	// The prose states the versions too.
	page, err := os.ReadFile("docs/caddy.md")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	for _, want := range []string{"Caddy v" + version + " or newer", "Go " + string(goVersion[1]) + " or newer"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("docs/caddy.md does not say %q, as go.mod requires", want)
		}
	}
}
