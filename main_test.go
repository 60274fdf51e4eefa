package cors

import (
	"bufio"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddytest"
)

// caddytestPorts are the fixed loopback ports caddytest and caddyGlobals use:
// Caddy's HTTP and HTTPS ports and its admin endpoint.
var caddytestPorts = []int{9080, 9443, 2999}

// TestMain keeps the tests out of the home directory and, before any test
// that starts Caddy through caddytest runs, checks that its fixed ports are
// free: a taken port otherwise fails those tests after minutes, in a thousand
// lines of Caddy's logs that never name the port.
func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "cors-test-caddy-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// caddytest starts Caddy with `caddy run` and an initial config of its
	// own, which Caddy autosaves, and Caddy's local CA lives in the default
	// storage: both go to a temporary directory instead of ~/.config/caddy
	// and ~/.local/share/caddy.
	caddy.ConfigAutosavePath = filepath.Join(dir, "autosave.json")
	caddy.DefaultStorage.Path = dir
	// Caddy's instance ID (instance.uuid, written when the TLS app cleans
	// its storage) goes to the app data directory whatever the storage:
	// XDG_DATA_HOME moves that too.
	os.Setenv("XDG_DATA_HOME", dir)
	if tests := selectedCaddytestTests(); len(tests) > 0 {
		for _, port := range caddytestPorts {
			if msg := portTaken(port); msg != "" {
				who := tests[0] + " needs"
				if len(tests) > 1 {
					who = fmt.Sprintf("%s and %d other tests need", tests[0], len(tests)-1)
				}
				fmt.Fprintf(os.Stderr, "%s: %s ports 9080, 9443 and 2999 free (they start Caddy through caddytest)\n", msg, who)
				os.RemoveAll(dir)
				os.Exit(1)
			}
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// selectedCaddytestTests returns the tests of this package that start a
// Caddy through caddytest (found in the source: they call
// caddytest.NewTester or caddytest.AssertLoadError) and that -run and -skip
// select, so that `go test -run TestOrigin` never needs the ports.
func selectedCaddytestTests() []string {
	if f := flag.Lookup("test.list"); f != nil && f.Value.String() != "" {
		return nil
	}
	run := topLevelPattern(flag.Lookup("test.run"))
	skip := topLevelPattern(flag.Lookup("test.skip"))
	var selected []string
	for _, name := range caddytestTests() {
		if (run == nil || run.MatchString(name)) && (skip == nil || !skip.MatchString(name)) {
			selected = append(selected, name)
		}
	}
	return selected
}

// topLevelPattern compiles the part of a -run or -skip pattern that top-level
// test names are matched against (the text before the first '/'); nil means
// the flag is unset or not understood, and then every test counts as selected
// for -run and none as skipped.
func topLevelPattern(f *flag.Flag) *regexp.Regexp {
	if f == nil || f.Value.String() == "" {
		return nil
	}
	first, _, _ := strings.Cut(f.Value.String(), "/")
	re, err := regexp.Compile(first)
	if err != nil {
		return nil
	}
	return re
}

// caddytestTests lists the Test functions of this directory's _test.go files
// whose bodies call caddytest.NewTester or caddytest.AssertLoadError.
func caddytestTests() []string {
	files, _ := filepath.Glob("*_test.go")
	fset := token.NewFileSet()
	var names []string
	for _, file := range files {
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			continue
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || fn.Body == nil || !strings.HasPrefix(fn.Name.Name, "Test") {
				continue
			}
			uses := false
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok {
					if x, ok := sel.X.(*ast.Ident); ok && x.Name == "caddytest" &&
						(sel.Sel.Name == "NewTester" || sel.Sel.Name == "AssertLoadError") {
						uses = true
					}
				}
				return !uses
			})
			if uses {
				names = append(names, fn.Name.Name)
			}
		}
	}
	return names
}

// portTaken returns "" when port can be bound on every interface, as Caddy
// binds its HTTP ports, or a sentence naming the port and, when this user
// may see it, the process listening on it.
func portTaken(port int) string {
	l, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err == nil {
		l.Close()
		return ""
	}
	if holder := portHolder(port); holder != "" {
		return fmt.Sprintf("port %d is taken by %s", port, holder)
	}
	return fmt.Sprintf("port %d is taken (by a process this user cannot see: %v)", port, err)
}

// portHolder finds the process listening on port from /proc: the socket's
// inode in /proc/net/tcp{,6}, then the process with a descriptor on it.
func portHolder(port int) string {
	inodes := map[string]bool{}
	for _, inode := range listeningSockets(port) {
		inodes["socket:["+inode+"]"] = true
	}
	if len(inodes) == 0 {
		return ""
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range procs {
		if target, err := os.Readlink(fd); err == nil && inodes[target] {
			pid := strings.Split(fd, "/")[2]
			cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline")
			cmd := strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))
			return fmt.Sprintf("pid %s (%s)", pid, cmd)
		}
	}
	return ""
}

// listeningSockets returns the inodes of the TCP sockets listening on port,
// IPv4 and IPv6, from /proc/net/tcp{,6} (this network namespace's), and nil
// where there is no /proc.
func listeningSockets(port int) []string {
	var inodes []string
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" { // 0A: LISTEN
				continue
			}
			_, hexPort, ok := strings.Cut(fields[1], ":")
			if p, err := strconv.ParseUint(hexPort, 16, 16); ok && err == nil && int(p) == port {
				inodes = append(inodes, fields[9])
			}
		}
		f.Close()
	}
	return inodes
}

// loadConfig loads config into the running Caddy, as tester.InitServer
// does, and returns once no connection the test opens can reach the
// previous config.
//
// Caddy binds a new config's sockets beside the old config's (SO_REUSEPORT)
// and closes the old ones only after the load has answered: the old HTTP
// servers are shut down in goroutines the load does not wait for, the old
// admin endpoint's even later. Until then the kernel hands each new
// connection to either socket, and the old server answers it with the old
// config, or closes it unanswered when its listener closes (EOF, connection
// reset). So loadConfig waits until each of Caddy's ports has one listening
// socket again (every test config listens once per port), then drops the
// idle connections the tester's client and caddytest's admin requests
// (http.DefaultTransport) kept to the old servers.
func loadConfig(t testing.TB, tester *caddytest.Tester, config, adapter string) {
	t.Helper()
	tester.InitServer(config, adapter)
	waitForOldServers(t)
	tester.Client.CloseIdleConnections()
}

// waitForOldServers waits until no port of caddytestPorts has more than
// one listening socket: the previous config's servers and admin endpoint
// have closed theirs. It also follows a load that failed, which can replace
// the admin endpoint all the same.
func waitForOldServers(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, port := range caddytestPorts {
		for n := len(listeningSockets(port)); n > 1; n = len(listeningSockets(port)) {
			if time.Now().After(deadline) {
				t.Fatalf("port %d: %d listening sockets 10 s after a config load: the previous config's server has not closed its own", port, n)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
}

// TestPortTakenNamesThePortAndItsHolder pins the one line TestMain prints
// when a caddytest port is taken: the port, and the process holding it when
// /proc shows it (here this test process, which holds it on loopback, as a
// stray Caddy's admin endpoint would); nothing when the port is free.
func TestPortTakenNamesThePortAndItsHolder(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port

	msg := portTaken(port)
	if strings.Contains(msg, "\n") {
		t.Errorf("portTaken(%d) = %q, want one line", port, msg)
	}
	want := fmt.Sprintf("port %d is taken", port)
	if !strings.HasPrefix(msg, want) {
		t.Fatalf("portTaken(%d) = %q, want it to start with %q", port, msg, want)
	}
	if _, err := os.Stat("/proc/net/tcp"); err == nil {
		self, _ := os.Executable()
		if holder := fmt.Sprintf("by pid %d (%s", os.Getpid(), self); !strings.Contains(msg, holder) {
			t.Errorf("portTaken(%d) = %q, want it to name this process: %q...", port, msg, holder)
		}
	}

	l.Close()
	if msg := portTaken(port); msg != "" {
		t.Errorf("portTaken(%d) on a freed port = %q, want \"\"", port, msg)
	}
}

// TestCaddyWritesNothingUnderHome runs this test binary again with HOME
// and the XDG directories at an empty temporary directory, where TestMain's
// redirections apply as in every test run; there a Caddy loads a config
// with the cors handler and a certificate from its local CA, which makes
// it write everything it writes (autosave.json, its storage, instance.uuid).
// The temporary home must still be empty afterwards.
func TestCaddyWritesNothingUnderHome(t *testing.T) {
	if os.Getenv("CORS_TEST_FAKE_HOME") != "" {
		runCaddyOnce(t)
		return
	}
	home := t.TempDir()
	// The test binary, by its path: caddytest rewrites os.Args.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^TestCaddyWritesNothingUnderHome$", "-test.count=1")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "XDG_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "HOME="+home, "CORS_TEST_FAKE_HOME=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("Caddy in a temporary home: %v\n%s", err, out)
	}
	filepath.WalkDir(home, func(path string, d fs.DirEntry, err error) error {
		if path != home {
			t.Errorf("Caddy wrote %s under the home directory", path)
		}
		return err
	})
}

// runCaddyOnce loads a config that makes Caddy write to each place it
// writes, then stops it.
func runCaddyOnce(t *testing.T) {
	cfg := `{
		"admin": {"disabled": true},
		"apps": {
			"http": {"servers": {"s": {
				"listen": ["127.0.0.1:0"],
				"automatic_https": {"disable": true},
				"routes": [{"handle": [{"handler": "cors", "origins": ["https://a.example.com"]}]}]
			}}},
			"pki": {"certificate_authorities": {"local": {"install_trust": false}}},
			"tls": {
				"certificates": {"automate": ["cors-test.localhost"]},
				"automation": {"policies": [{"issuers": [{"module": "internal"}]}]}
			}
		}
	}`
	if err := caddy.Load([]byte(cfg), true); err != nil {
		t.Fatal(err)
	}
	// The TLS app writes the instance ID from a goroutine of its own.
	if _, err := caddy.InstanceID(); err != nil {
		t.Fatal(err)
	}
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
}
