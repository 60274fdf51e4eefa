package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// findMiniBrowser returns WebKitGTK's MiniBrowser, or "": $MINIBROWSER_PATH
// first, then where Debian's webkit2gtk packages put it.
func findMiniBrowser() string {
	candidates := []string{
		os.Getenv("MINIBROWSER_PATH"),
		"/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser",
		"/usr/lib/aarch64-linux-gnu/webkit2gtk-4.1/MiniBrowser",
		"/usr/lib/x86_64-linux-gnu/webkitgtk-6.0/MiniBrowser",
	}
	for _, p := range candidates {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// webkitEngine runs WebKitGTK's MiniBrowser, one process per open, on an
// Xvfb display. It uses no WebDriver: under automation MiniBrowser keeps the
// console to itself, and the console is where WebKit explains a refused CORS
// check. Without automation, --enable-write-console-messages-to-stdout
// prints every console line, the page's result line included.
//
// Host names: MiniBrowser resolves through the system, so each process runs
// in a mount namespace of its own where a hosts file of the suite's names is
// bound over /etc/hosts; the machine's own file is never touched.
type webkitEngine struct {
	miniBrowser string
	display     string
	hosts       string // the hosts file bound over /etc/hosts

	mu  sync.Mutex
	seq int
	tmp string
}

func startWebKit(tmp string) (engine, func(), error) {
	mb := findMiniBrowser()
	if mb == "" {
		return nil, nil, errMissing{"WebKitGTK's MiniBrowser (looked at $MINIBROWSER_PATH and /usr/lib/*/webkit2gtk-4.1/MiniBrowser)"}
	}
	if err := resolvableNetwork(); err != nil {
		return nil, nil, err
	}
	for _, tool := range []string{"Xvfb", "unshare"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, nil, errMissing{tool}
		}
	}
	hosts := filepath.Join(tmp, "webkit-hosts")
	if err := os.WriteFile(hosts, []byte(hostsFile), 0o644); err != nil {
		return nil, nil, err
	}
	display, stopX, err := startXvfb()
	if err != nil {
		return nil, nil, err
	}
	w := &webkitEngine{miniBrowser: mb, display: display, hosts: hosts, tmp: tmp}
	return w, stopX, nil
}

// hostsFile maps the names the scenarios use to loopback.
const hostsFile = `127.0.0.1	localhost
::1	localhost
127.0.0.1	app.example.test api.example.test other.example.test
127.0.0.1	deep.sub.example.test evilapp.example.test
`

// resolvableNetwork fails where MiniBrowser would load no page of the
// suite: it resolves host names with getaddrinfo's AI_ADDRCONFIG, which
// returns no IPv4 address on a machine whose only IPv4 addresses are
// loopback ones (a network namespace with nothing but lo up, say), even for
// names the hosts file maps to 127.0.0.1. Every page would then time out,
// one after another, for the whole suite.
func resolvableNetwork() error {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if ip, ok := a.(*net.IPNet); ok && ip.IP.To4() != nil && !ip.IP.IsLoopback() {
			return nil
		}
	}
	return errors.New("this network has no IPv4 address but loopback ones, so MiniBrowser resolves no host name " +
		"(getaddrinfo's AI_ADDRCONFIG); in a network namespace of its own, add one, e.g. ip addr add 10.254.0.1/32 dev lo")
}

// startXvfb starts a virtual display and returns its name (":N").
//
// -noreset: by default an X server resets when its last client leaves, and
// drops connections while it does. Each scenario's MiniBrowser is the
// display's only client, so the next one, connecting in that window, died
// with "cannot open display" (49 of 400 back-to-back connections dropped on
// a loaded 2-core machine; none with -noreset).
func startXvfb() (string, func(), error) {
	r, w, err := os.Pipe()
	if err != nil {
		return "", nil, err
	}
	defer r.Close()
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-noreset", "-screen", "0", "1280x800x24", "-nolisten", "tcp")
	cmd.ExtraFiles = []*os.File{w} // fd 3
	if err := cmd.Start(); err != nil {
		w.Close()
		return "", nil, err
	}
	w.Close()
	stop := func() { cmd.Process.Kill(); cmd.Wait() }
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		got <- strings.TrimSpace(line)
	}()
	select {
	case n := <-got:
		if n == "" {
			stop()
			return "", nil, errors.New("Xvfb did not start")
		}
		return ":" + n, stop, nil
	case <-time.After(20 * time.Second):
		stop()
		return "", nil, errors.New("Xvfb did not name its display within 20 s")
	}
}

func (w *webkitEngine) name() string { return webkit }

func (w *webkitEngine) open(url string, log *consoleLog) (func(), error) {
	w.mu.Lock()
	w.seq++
	profile := filepath.Join(w.tmp, fmt.Sprintf("webkit-%d", w.seq))
	w.mu.Unlock()
	// A fresh profile: MiniBrowser keeps cookies and caches under the XDG
	// directories (its --private mode prints no console line).
	env := append(os.Environ(),
		"DISPLAY="+w.display,
		"XDG_DATA_HOME="+filepath.Join(profile, "data"),
		"XDG_CACHE_HOME="+filepath.Join(profile, "cache"),
		"XDG_CONFIG_HOME="+filepath.Join(profile, "config"),
		"GDK_BACKEND=x11",
	)
	unshare := []string{"unshare", "--mount"}
	if os.Geteuid() != 0 {
		unshare = append(unshare, "--map-root-user")
	}
	// --cookies-policy=always: MiniBrowser's default, no-third-party,
	// compares host names, so it drops a cookie api.example.test sets for a
	// page on app.example.test, which Safari keeps (the two are one site).
	args := append(unshare, "sh", "-c", `mount --bind "$1" /etc/hosts && shift && exec "$@"`, "sh",
		w.hosts, w.miniBrowser, "--enable-write-console-messages-to-stdout=true", "--cookies-policy=always", url)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if msg, ok := webkitConsole(sc.Text()); ok {
				log.add(msg)
			} else {
				log.note(sc.Text())
			}
		}
		io.Copy(io.Discard, out)
	}()
	return func() {
		// MiniBrowser's web and network processes are in its group.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		<-done
		os.RemoveAll(profile)
	}, nil
}

// webkitConsole returns the message of a console line as MiniBrowser prints
// it, "[url:line:column: ]CONSOLE [SOURCE ]LEVEL message", e.g.
//
//	CONSOLE SECURITY ERROR Method DELETE is not allowed by Access-Control-Allow-Methods.
//
// The message is what Safari's console shows.
func webkitConsole(line string) (string, bool) {
	i := strings.Index(line, "CONSOLE ")
	if i < 0 {
		return "", false
	}
	words := strings.SplitN(line[i+len("CONSOLE "):], " ", 3)
	if len(words) < 2 {
		return "", false
	}
	if webkitLevels[words[0]] {
		return strings.Join(words[1:], " "), true
	}
	if len(words) == 3 && webkitLevels[words[1]] {
		return words[2], true
	}
	return "", false
}

var webkitLevels = map[string]bool{"LOG": true, "INFO": true, "WARN": true, "ERROR": true, "DEBUG": true}
