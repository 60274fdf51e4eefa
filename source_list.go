package cors

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(FileSource{})
	caddy.RegisterModule(StorageSource{})
}

// The file and storage sources read a list of origins, one per line, with
// the rules of the `origins` subdirective (exact origins, *. subdomain
// patterns, :* ports; "*" and "null" are errors, and so is a line that
// breaks a credentials rule). The list lives in memory and is read again
// every refresh; a changed list replaces the old one at once (no request
// sees half of it), and an invalid one is refused whole, logged with its
// line, while the old one stays.

// FileSource reads the allowed origins from a file.
type FileSource struct {
	// The file's path.
	Path string `json:"path"`

	// How often the file is read again. Default: 5s.
	Refresh caddy.Duration `json:"refresh,omitempty"`

	*originList
}

// StorageSource reads the allowed origins from a key of Caddy's configured
// storage (the `storage` global option), so that every server of a fleet
// that shares its storage (Redis, Consul, S3...) follows one list.
type StorageSource struct {
	// The storage key, e.g. "cors/origins.txt".
	Key string `json:"key"`

	// How often the key is read again. Default: 30s.
	Refresh caddy.Duration `json:"refresh,omitempty"`

	*originList
}

// Defaults of the list sources.
const (
	defaultFileRefresh    = 5 * time.Second
	defaultStorageRefresh = 30 * time.Second
	// maxListSize bounds what a list source reads: a path or key set by
	// mistake to something huge must not exhaust memory.
	maxListSize = 64 << 20
)

// CaddyModule returns the Caddy module information.
func (FileSource) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.cors.origins.file",
		New: func() caddy.Module { return new(FileSource) },
	}
}

// CaddyModule returns the Caddy module information.
func (StorageSource) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.cors.origins.storage",
		New: func() caddy.Module { return new(StorageSource) },
	}
}

// UnmarshalCaddyfile sets up the source from Caddyfile tokens. Syntax:
//
//	origin_source file <path> {
//		refresh <duration>
//	}
func (s *FileSource) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return unmarshalList(d, "file", "/etc/caddy/cors-origins.txt", &s.Path, &s.Refresh)
}

// UnmarshalCaddyfile sets up the source from Caddyfile tokens. Syntax:
//
//	origin_source storage <key> {
//		refresh <duration>
//	}
func (s *StorageSource) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return unmarshalList(d, "storage", "cors/origins.txt", &s.Key, &s.Refresh)
}

func unmarshalList(d *caddyfile.Dispenser, name, example string, where *string, refresh *caddy.Duration) error {
	d.Next() // the source name
	if !d.NextArg() {
		return d.Errf("cors: origin_source %s needs the %s to read, e.g. origin_source %s %s", name, listWhat[name], name, example)
	}
	*where = d.Val()
	if d.NextArg() {
		return d.Errf("cors: origin_source %s takes one %s, not also %q: put its settings in a block, e.g. origin_source %s %s { refresh 10s }", name, listWhat[name], d.Val(), name, *where)
	}
	for d.NextBlock(0) {
		if d.Val() != "refresh" {
			return d.Errf("cors: unknown origin_source %s setting %q: write refresh", name, d.Val())
		}
		args := d.RemainingArgs()
		if len(args) != 1 {
			return d.Errf("cors: refresh takes one duration, e.g. refresh 10s%s", extraArgs(args))
		}
		v, err := caddy.ParseDuration(args[0])
		switch {
		case err != nil:
			return d.Errf("cors: refresh %q: %v: write a duration such as 10s", args[0], err)
		case v <= 0:
			return d.Errf("cors: refresh %q must be positive: write a duration such as 10s", args[0])
		}
		*refresh = caddy.Duration(v)
	}
	return nil
}

var listWhat = map[string]string{"file": "path of the file", "storage": "storage key"}

// Provision reads the file: a missing or invalid list is a config error.
func (s *FileSource) Provision(ctx caddy.Context) error {
	if s.Path == "" {
		return errors.New(`path: the file to read is missing: write e.g. "path": "/etc/caddy/cors-origins.txt"`)
	}
	s.originList = new(originList)
	return s.load(ctx, "file "+s.Path, s.Refresh, defaultFileRefresh, func(context.Context) ([]byte, error) {
		return readFile(s.Path)
	})
}

// Provision reads the key from Caddy's storage: a missing or invalid list
// is a config error.
func (s *StorageSource) Provision(ctx caddy.Context) error {
	if s.Key == "" {
		return errors.New(`key: the storage key to read is missing: write e.g. "key": "cors/origins.txt"`)
	}
	storage := ctx.Storage()
	s.originList = new(originList)
	return s.load(ctx, "storage key "+s.Key, s.Refresh, defaultStorageRefresh, func(ctx context.Context) ([]byte, error) {
		return readStorage(ctx, storage, s.Key)
	})
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxListSize+1))
	if err == nil && len(b) > maxListSize {
		err = fmt.Errorf("larger than %d MiB", maxListSize>>20)
	}
	return b, err
}

func readStorage(ctx context.Context, storage certmagic.Storage, key string) ([]byte, error) {
	b, err := storage.Load(ctx, key)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("not found in the configured storage (%T)", storage)
	case err == nil && len(b) > maxListSize:
		err = fmt.Errorf("larger than %d MiB", maxListSize>>20)
	}
	return b, err
}

// originList is what the file and storage sources share: the list in
// memory, swapped whole, and the goroutine that reads it again.
type originList struct {
	where   string // "file <path>" or "storage key <key>", for messages
	read    func(context.Context) ([]byte, error)
	refresh time.Duration
	logger  *zap.Logger

	// credentials: the lines follow the credentials rules. Set once by
	// bindCredentials, before the goroutine starts.
	credentials bool
	content     []byte // the content the list was last built from
	list        atomic.Pointer[allowList]

	// seen is the content (or read error) last looked at, so that a broken
	// list is logged once, not every refresh. Only the goroutine uses it.
	seen    []byte
	seenErr string

	stop context.CancelFunc
	done chan struct{}
}

func (l *originList) load(ctx caddy.Context, where string, refresh caddy.Duration, def time.Duration, read func(context.Context) ([]byte, error)) error {
	l.where, l.read, l.logger = where, read, ctx.Logger()
	switch {
	case refresh < 0:
		return fmt.Errorf("refresh: %v is negative: write a duration such as %q", time.Duration(refresh), def.String())
	case refresh == 0:
		l.refresh = def
	default:
		l.refresh = time.Duration(refresh)
	}
	b, err := read(ctx)
	if err != nil {
		return fmt.Errorf("%s: %v", where, err)
	}
	list, warnings, err := parseOriginList(b, where, false)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		l.logger.Warn("cors: " + w)
	}
	l.content, l.seen = b, b
	l.list.Store(list)
	return nil
}

// bindCredentials applies the handler's credentials rules to the list, and
// starts reading it again every refresh.
func (l *originList) bindCredentials(credentials bool) error {
	if credentials {
		list, _, err := parseOriginList(l.content, l.where, true)
		if err != nil {
			return err
		}
		l.list.Store(list)
	}
	l.credentials = credentials
	ctx, stop := context.WithCancel(context.Background())
	l.stop, l.done = stop, make(chan struct{})
	go l.poll(ctx)
	return nil
}

func (l *originList) poll(ctx context.Context) {
	defer close(l.done)
	t := time.NewTicker(l.refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			l.reload(ctx)
		}
	}
}

// reload reads the list again and swaps it in if it changed and is valid.
func (l *originList) reload(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, l.refresh)
	defer cancel()
	b, err := l.read(ctx)
	if err != nil {
		if msg := err.Error(); msg != l.seenErr && ctx.Err() == nil {
			l.seenErr = msg
			l.logger.Error("cors: cannot read the origin list; the old list stays", zap.String("list", l.where), zap.Error(err))
		}
		return
	}
	l.seenErr = ""
	if bytes.Equal(b, l.seen) {
		return
	}
	l.seen = b
	list, warnings, err := parseOriginList(b, l.where, l.credentials)
	if err != nil {
		l.logger.Error("cors: the origin list changed and is invalid; the old list stays", zap.String("list", l.where), zap.Error(err))
		return
	}
	for _, w := range warnings {
		l.logger.Warn("cors: " + w)
	}
	l.list.Store(list)
	l.logger.Info("cors: origin list changed", zap.String("list", l.where))
}

// MatchOrigin reports whether the list allows origin.
func (l *originList) MatchOrigin(origin string) bool {
	return l.list.Load().match(origin)
}

// AllowOrigin answers from the list, as MatchOrigin.
func (l *originList) AllowOrigin(_ context.Context, origin, _ string) (OriginAnswer, error) {
	return OriginAnswer{Allowed: l.MatchOrigin(origin), NoStore: true}, nil
}

// Cleanup stops the goroutine that reads the list.
func (l *originList) Cleanup() error {
	if l != nil && l.stop != nil {
		l.stop()
		<-l.done
	}
	return nil
}

// maxListProblems bounds how many problems of a list one error names.
const maxListProblems = 10

// parseOriginList builds the allow-list of a list's content. Its errors and
// warnings name where the list is and the line.
func parseOriginList(content []byte, where string, credentials bool) (*allowList, []string, error) {
	c := &compiler{p: new(policy)}
	list := new(allowList)
	var parsed []configuredOrigin
	line := 0
	for rest := string(content); rest != ""; {
		var text string
		text, rest, _ = strings.Cut(rest, "\n")
		line++
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		text = strings.TrimSpace(text)
		switch {
		case text == "":
			continue
		case text == "*":
			c.errorf("origins", line, `"*" is not allowed in an origin list (it would allow every origin, and the list could never narrow it): write one origin per line, or use origins * in the config instead of a list`)
			continue
		case text == "null":
			c.errorf("origins", line, `"null" is not allowed in an origin list: sandboxed iframes and file:// pages all send it, so anyone can; remove it`)
			continue
		case strings.ContainsAny(text, " \t,"):
			c.errorf("origins", line, "%q: write one origin per line", text)
			continue
		}
		if p, ok := c.origin(line, text, credentials); ok {
			parsed = append(parsed, configuredOrigin{line, text, p})
			list.add(p)
		}
	}
	c.redundantOrigins(parsed)
	at := func(p configProblem) string {
		return fmt.Sprintf("%s, line %d: %s", where, p.index, p.msg)
	}
	var warnings []string
	for _, w := range c.warnings {
		warnings = append(warnings, at(w))
	}
	if len(c.problems) == 0 {
		return list, warnings, nil
	}
	var errs []error
	for _, p := range c.problems[:min(len(c.problems), maxListProblems)] {
		errs = append(errs, errors.New(at(p)))
	}
	if n := len(c.problems) - maxListProblems; n > 0 {
		errs = append(errs, fmt.Errorf("%s: and %d more problems", where, n))
	}
	return nil, warnings, errors.Join(errs...)
}

// Interface guards
var (
	_ OriginList            = (*FileSource)(nil)
	_ caddy.Provisioner     = (*FileSource)(nil)
	_ caddy.CleanerUpper    = (*FileSource)(nil)
	_ caddyfile.Unmarshaler = (*FileSource)(nil)
	_ credentialsBinder     = (*FileSource)(nil)
	_ OriginList            = (*StorageSource)(nil)
	_ caddy.Provisioner     = (*StorageSource)(nil)
	_ caddy.CleanerUpper    = (*StorageSource)(nil)
	_ caddyfile.Unmarshaler = (*StorageSource)(nil)
	_ credentialsBinder     = (*StorageSource)(nil)
)
