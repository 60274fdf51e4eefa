package cors

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/sync/singleflight"
)

// Origin sources decide, at request time, about origins the configuration
// cannot list: the custom domains of a multi-tenant SaaS, or one list shared
// by a fleet. A source is a guest module in the namespace
// http.handlers.cors.origins, so that anyone can write one (a database, a
// Redis set) in a module of their own; this package ships http, file and
// storage.
//
// A source is asked only about an Origin the static origins and regexps
// refuse, and only when that Origin is well-formed and canonical: a
// malformed value, "null" or a second Origin line never reaches it. The
// question is the exact Origin value and the request's host, never the
// request itself: an answer that depended on anything else (a cookie, a
// path) would be cached and sent to requests that differ in a header Vary
// does not name.

// OriginSource is implemented by guest modules of the namespace
// http.handlers.cors.origins.
//
// The handler caches the answers of a source (see OriginCache) and asks it
// once per question at a time, however many requests wait for the answer.
// A source that holds its whole list in memory implements OriginList
// instead, and is then asked directly, with no cache.
type OriginSource interface {
	// AllowOrigin tells whether origin may read the responses of host.
	// origin is a serialized origin exactly as a browser sends it
	// ("https://shop.example.com", lower case, no default port), and host
	// is the request's host name, in lower case and without a port.
	//
	// ctx is not the request's context: a client that goes away does not
	// cancel a lookup other requests wait for. The source must bound the
	// time a lookup takes itself (the http source's timeout). An error
	// refuses the origin without caching a refusal, and lets the handler
	// use a stale answer (stale_if_error).
	AllowOrigin(ctx context.Context, origin, host string) (OriginAnswer, error)
}

// OriginAnswer is an OriginSource's answer to one question.
type OriginAnswer struct {
	// Allowed tells whether the origin may read the host's responses.
	Allowed bool

	// TTL is how long the answer holds, if the source knows (the http
	// source takes it from Cache-Control: max-age). Zero leaves it to the
	// cache's allow_ttl or deny_ttl; it is capped at 24 hours.
	TTL time.Duration

	// NoStore keeps the answer out of the cache (Cache-Control: no-store),
	// so that the next request asks again.
	NoStore bool
}

// OriginList is an OriginSource that keeps its whole list in memory, as the
// file and storage sources do. The handler matches origins against it
// directly on every request: no cache, no lookup and no wait, so that a
// changed list takes effect at once.
type OriginList interface {
	OriginSource

	// MatchOrigin reports whether the list allows origin, a serialized
	// origin as for AllowOrigin. It must not block.
	MatchOrigin(origin string) bool
}

// maxOriginTTL caps the lifetime a source may give an answer.
const maxOriginTTL = 24 * time.Hour

// originSources are the sources of one handler.
type originSources struct {
	lists []OriginList
	asked []*askedSource
	log   *zap.Logger

	released atomic.Bool // Cleanup has released the shared caches
}

// askedSource is a source whose answers are cached.
type askedSource struct {
	name    string // the module name, for metrics and logs
	src     OriginSource
	shared  *sharedCache
	metrics *sourceMetrics
	log     *zap.Logger
}

// answerFrom says where an asked source's answer came from, for the debug
// line of a refusal.
type answerFrom uint8

const (
	fromCache answerFrom = iota
	fromLookup
	fromStale
	fromError
)

func (f answerFrom) String() string {
	return [...]string{"cache", "lookup", "stale", "error"}[f]
}

// allowsOrigin is Handler.allowsOrigin for a handler with sources: static
// origins, then the sources. A fresh answer of an asked source is looked up
// before the Origin is parsed: the cache only holds answers about
// well-formed origins, keyed by their exact bytes, so an origin allowed
// from the cache needs no parsing, as an exact static origin needs none.
// Only a well-formed origin is ever asked about, and only for a request
// whose host is a host name.
func (s *originSources) allowsOrigin(ctx context.Context, static *allowList, origin, host string) bool {
	if static.matchUnparsed(origin) {
		return true
	}
	var buf [maxKeyLen]byte
	var key []byte
	// Bit i: asked source i has a fresh refusal. For a source past the
	// 64th, 1<<i is 0: its bit is never set, and it is asked again.
	var fresh uint64
	if len(s.asked) > 0 && len(origin) <= maxOriginLen {
		if h, ok := questionHost(host); ok {
			key = appendKey(buf[:0], origin, h)
		}
	}
	if key != nil {
		for i, a := range s.asked {
			if allowed, ok := a.shared.cache.get(key); ok {
				a.metrics.cache(cacheHit)
				if allowed {
					return true
				}
				fresh |= 1 << i
			}
		}
	}
	allowed, wellFormed := static.matchParsed(origin)
	if allowed || !wellFormed {
		return allowed
	}
	for _, l := range s.lists {
		if l.MatchOrigin(origin) {
			return true
		}
	}
	if key == nil {
		return false
	}
	for i, a := range s.asked {
		from := fromCache
		if fresh&(1<<i) == 0 {
			if allowed, from = a.allows(ctx, key); allowed {
				return true
			}
		}
		if c := a.log.Check(zapcore.DebugLevel, "origin refused by origin source"); c != nil {
			_, h := splitKey(string(key))
			c.Write(zap.String("source", a.name), zap.String("origin", truncate(origin)),
				zap.String("host", h), zap.String("answer", from.String()))
		}
	}
	return false
}

// questionHost is the request's host as sources are asked about it (in
// lower case, see appendKey): the name without a port (nor brackets), and
// no longer than a host name can be, so that a hostile Host header cannot
// make cache entries large.
func questionHost(host string) (string, bool) {
	// As net.SplitHostPort, without allocating an error for a host that
	// has no port.
	if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.IndexByte(host[i:], ']') < 0 {
		host = host[:i]
	}
	if len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	if host == "" || len(host) > maxHostLen+2 {
		return "", false
	}
	return host, true
}

// allows answers the question of key (see appendKey) from the cache while
// the answer is fresh, and otherwise asks the source, once for all the
// requests that wait for the same answer.
func (a *askedSource) allows(ctx context.Context, key []byte) (bool, answerFrom) {
	c := a.shared.cache
	if allowed, fresh := c.get(key); fresh {
		a.metrics.cache(cacheHit)
		return allowed, fromCache
	}
	a.metrics.cache(cacheMiss)
	k := string(key)
	v, _, _ := a.shared.group.Do(k, func() (any, error) {
		// A request that missed just as the previous lookup finished
		// finds its answer here rather than asking again.
		if allowed, fresh := c.get(key); fresh {
			return lookupResult{allowed: allowed}, nil
		}
		return a.lookup(ctx, k), nil
	})
	res := v.(lookupResult)
	if res.err == nil {
		return res.allowed, fromLookup
	}
	if allowed, ok := c.stale(key); ok {
		a.metrics.cache(cacheStale)
		return allowed, fromStale
	}
	return false, fromError
}

type lookupResult struct {
	allowed bool
	err     error
}

// lookup asks the source and caches a real answer. The request's context
// is detached from the lookup: a client that goes away must not fail the
// lookup for the requests that wait for the same answer.
func (a *askedSource) lookup(ctx context.Context, key string) lookupResult {
	origin, host := splitKey(key)
	start := time.Now()
	ans, err := a.src.AllowOrigin(context.WithoutCancel(ctx), origin, host)
	a.metrics.lookup(err, ans.Allowed, time.Since(start))
	if err != nil {
		a.shared.logError(a.log, a.name, origin, host, err)
		return lookupResult{err: err}
	}
	a.shared.cache.put([]byte(key), ans)
	return lookupResult{allowed: ans.Allowed}
}

// sharedCache is what a handler's asked source keeps across config reloads:
// its cache, the lookups in flight and the error log's rate limit. Handlers
// whose source and cache settings are the same share one.
type sharedCache struct {
	key   string
	refs  int // guarded by sharedCaches
	cache *originCache
	group singleflight.Group

	lastError atomic.Int64 // unix nanoseconds of the last error logged
}

// errorLogInterval is how often a failing source is logged at most.
const errorLogInterval = time.Minute

// logError logs a lookup error, at most once a minute per source: a source
// that is down fails every new question, and one line says so.
func (s *sharedCache) logError(log *zap.Logger, name, origin, host string, err error) {
	now := s.cache.now()
	last := s.lastError.Load()
	if last != 0 && now-last < int64(errorLogInterval) || !s.lastError.CompareAndSwap(last, now) {
		return
	}
	log.Error("origin source failed: origins it has not already allowed are refused until it answers",
		zap.String("source", name), zap.String("origin", truncate(origin)), zap.String("host", host), zap.Error(err))
}

// sharedCaches holds the caches of every loaded handler, by source and cache
// settings, so that a config reload that leaves them alike keeps the cache
// (as reverse_proxy's dynamic upstreams keep theirs).
var sharedCaches = struct {
	mu sync.Mutex
	m  map[string]*sharedCache
}{m: map[string]*sharedCache{}}

// acquireCache returns the shared cache for key, made with settings if it
// does not exist yet, and counts the reference.
func acquireCache(key string, settings cacheSettings) *sharedCache {
	sharedCaches.mu.Lock()
	defer sharedCaches.mu.Unlock()
	s := sharedCaches.m[key]
	if s == nil {
		cacheClock.acquire()
		s = &sharedCache{key: key, cache: newOriginCache(settings, cacheClock.now)}
		sharedCaches.m[key] = s
	}
	s.refs++
	return s
}

// release drops a reference; the last one frees the cache, and its use of
// the clock.
func (s *sharedCache) release() {
	sharedCaches.mu.Lock()
	defer sharedCaches.mu.Unlock()
	if s.refs--; s.refs == 0 {
		delete(sharedCaches.m, s.key)
		cacheClock.release()
	}
}

// provisionSources loads the handler's origin sources and, for those that
// are asked, their shared caches.
func (h *Handler) provisionSources(ctx caddy.Context) error {
	if len(h.SourcesRaw) == 0 {
		return nil
	}
	raws := slices.Clone(h.SourcesRaw) // LoadModule clears the field
	mods, err := ctx.LoadModule(h, "SourcesRaw")
	if err != nil {
		return fmt.Errorf("loading origin sources: %v", err)
	}
	settings := h.OriginCache.settings()
	settingsJSON, _ := json.Marshal(settings)
	metrics, err := newSourceMetrics(ctx)
	if err != nil {
		return err
	}
	s := &originSources{log: h.logger}
	h.sources = s // so that Cleanup releases what is acquired below
	for i, mod := range mods.([]any) {
		name := sourceName(raws[i])
		if l, ok := mod.(OriginList); ok {
			if b, ok := l.(credentialsBinder); ok {
				if err := b.bindCredentials(h.AllowCredentials); err != nil {
					return fmt.Errorf("origin_sources[%d] (%s): %v", i, name, err)
				}
			}
			s.lists = append(s.lists, l)
			continue
		}
		src, ok := mod.(OriginSource)
		if !ok {
			return fmt.Errorf("origin_sources[%d]: module %s (%T) is not an origin source", i, name, mod)
		}
		key := string(raws[i]) + "\x00" + string(settingsJSON)
		s.asked = append(s.asked, &askedSource{
			name:    name,
			src:     src,
			shared:  acquireCache(key, settings),
			metrics: metrics.forSource(name),
			log:     h.logger,
		})
	}
	return nil
}

// credentialsBinder is implemented by the lists of this package, whose lines
// follow the credentials rules of origins: they learn the handler's setting
// after they are loaded.
type credentialsBinder interface {
	bindCredentials(credentials bool) error
}

// sourceName reads a source's module name from its JSON.
func sourceName(raw json.RawMessage) string {
	var v struct {
		Source string `json:"source"`
	}
	_ = json.Unmarshal(raw, &v)
	return v.Source
}

// Cleanup releases the handler's shared caches; the sources clean up
// after themselves. A request the old server still serves after a reload
// keeps using the cache it holds, so nothing here is taken from the
// handler: a released cache is only forgotten by the registry.
func (h *Handler) Cleanup() error {
	if h.sources == nil || !h.sources.released.CompareAndSwap(false, true) {
		return nil
	}
	for _, a := range h.sources.asked {
		a.shared.release()
	}
	return nil
}

var _ caddy.CleanerUpper = (*Handler)(nil)
