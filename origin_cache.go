package cors

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// OriginCache sets how long the answers of origin sources that are asked
// (the http source) are kept. Lists (file, storage) live in memory and are
// not cached. Revoking an origin therefore takes up to allow_ttl, plus
// stale_if_error while the source fails (each to within clockTick).
type OriginCache struct {
	// How long an answer that allows an origin is kept, unless the answer
	// sets its own lifetime. Default: 5m.
	AllowTTL caddy.Duration `json:"allow_ttl,omitempty"`

	// How long an answer that refuses an origin is kept, unless the answer
	// sets its own lifetime: a tenant that has just added its domain waits
	// this long at most. Default: 1m.
	DenyTTL caddy.Duration `json:"deny_ttl,omitempty"`

	// How long past its lifetime an answer is still used while the source
	// fails (errors, timeouts): an outage of the source then refuses only
	// origins it had not answered for recently. Default: 1h.
	StaleIfError caddy.Duration `json:"stale_if_error,omitempty"`

	// How many answers are kept at most. Refusals are evicted first, so a
	// flood of distinct refused origins never evicts an allowed one.
	// Default: 10000.
	MaxEntries int `json:"max_entries,omitempty"`
}

// Defaults of OriginCache.
const (
	defaultAllowTTL     = 5 * time.Minute
	defaultDenyTTL      = time.Minute
	defaultStaleIfError = time.Hour
	defaultMaxEntries   = 10000
)

// cacheSettings is an OriginCache with its defaults filled in.
type cacheSettings struct {
	AllowTTL, DenyTTL, StaleIfError time.Duration
	MaxEntries                      int
}

func (c *OriginCache) settings() cacheSettings {
	s := cacheSettings{defaultAllowTTL, defaultDenyTTL, defaultStaleIfError, defaultMaxEntries}
	if c == nil {
		return s
	}
	if c.AllowTTL > 0 {
		s.AllowTTL = time.Duration(c.AllowTTL)
	}
	if c.DenyTTL > 0 {
		s.DenyTTL = time.Duration(c.DenyTTL)
	}
	if c.StaleIfError > 0 {
		s.StaleIfError = time.Duration(c.StaleIfError)
	}
	if c.MaxEntries > 0 {
		s.MaxEntries = c.MaxEntries
	}
	return s
}

// clockTick is the granularity of the caches' clock: an answer is used up
// to clockTick past its lifetime, or dropped up to clockTick before it ends
// (plus however late the Go scheduler runs the tick on a starved machine).
const clockTick = 100 * time.Millisecond

// cacheClock is the clock of every shared cache. Reading time.Now on each
// cache hit cost about a fifth of a request on a VM; an atomic load of a
// time a ticker sets costs next to nothing.
var cacheClock = &coarseClock{tick: clockTick, wall: time.Now}

// coarseClock is a clock read often and updated every tick, by a goroutine
// that runs only while someone uses the clock (acquire, release): the first
// cache acquired starts it and the last one released stops it, so that no
// goroutine outlives the handlers. Stopped, it reads the wall clock itself,
// so that a request a stopping server still serves never sees it stand
// still.
type coarseClock struct {
	tick time.Duration
	wall func() time.Time

	nanos atomic.Int64 // wall's unix nanoseconds at the last tick; 0 while stopped

	mu    sync.Mutex
	users int
	stop  chan struct{}
	done  chan struct{}
}

// now returns the time, in unix nanoseconds, to within a tick.
func (c *coarseClock) now() int64 {
	if n := c.nanos.Load(); n != 0 {
		return n
	}
	return c.wall().UnixNano()
}

// acquire counts a user, and starts the ticker for the first.
func (c *coarseClock) acquire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.users++; c.users > 1 {
		return
	}
	c.update()
	c.stop, c.done = make(chan struct{}), make(chan struct{})
	go c.run(c.stop, c.done)
}

func (c *coarseClock) run(stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(c.tick)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			c.update()
		}
	}
}

// update sets the clock to the wall clock's time: each tick.
func (c *coarseClock) update() {
	c.nanos.Store(c.wall().UnixNano())
}

// release drops a user; the last one stops the ticker and waits for its
// goroutine to end.
func (c *coarseClock) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.users--; c.users > 0 {
		return
	}
	close(c.stop)
	<-c.done
	c.nanos.Store(0)
}

// maxKeyLen bounds the cache's keys: an origin that can be well-formed and
// a host questionHost accepts. Longer questions are never asked, so never
// cached.
const maxKeyLen = 2 + maxOriginLen + maxHostLen + 2

// appendKey appends to b the cache's key for a question: the origin's
// length, the origin and the host, folded to lower case as it is copied.
// One string, so that a lookup hashes (or, in a small map, compares) one
// string; the length prefix keeps every pair apart whatever bytes they hold.
// Built on the stack, a key costs a lookup no allocation.
func appendKey(b []byte, origin, host string) []byte {
	b = append(b, byte(len(origin)>>8), byte(len(origin)))
	b = append(b, origin...)
	n := len(b)
	b = append(b, host...)
	for i := 0; i < len(host); i++ {
		if host[i]-'A' <= 'Z'-'A' {
			b[n+i] += 'a' - 'A'
		}
	}
	return b
}

// splitKey returns the origin and the host of a key appendKey made.
func splitKey(key string) (origin, host string) {
	n := 2 + (int(key[0])<<8 | int(key[1]))
	return key[2:n], key[n:]
}

// cacheEntry is a source's last real answer to a question.
type cacheEntry struct {
	allowed bool
	fresh   int64 // until when the answer holds, unix nanoseconds
	stale   int64 // until when it may stand in for a failed lookup
}

// originCache keeps the answers of a source. Allowed and refused answers are
// kept apart so that the bound on entries never costs an allowed one while a
// refused one could go instead: whoever can send requests can make up
// refused origins without end, while allowed ones are the operator's own.
type originCache struct {
	settings cacheSettings
	now      func() int64 // unix nanoseconds; cacheClock.now outside tests

	mu      sync.RWMutex
	allowed map[string]cacheEntry
	refused map[string]cacheEntry
}

func newOriginCache(s cacheSettings, now func() int64) *originCache {
	return &originCache{
		settings: s,
		now:      now,
		allowed:  map[string]cacheEntry{},
		refused:  map[string]cacheEntry{},
	}
}

// lookup returns the entry for key (see appendKey), if there is one. A map
// index by string(key) does not allocate.
func (c *originCache) lookup(key []byte) (cacheEntry, bool) {
	c.mu.RLock()
	e, ok := c.allowed[string(key)]
	if !ok {
		e, ok = c.refused[string(key)]
	}
	c.mu.RUnlock()
	return e, ok
}

// get returns the answer for key while it is fresh.
func (c *originCache) get(key []byte) (allowed, fresh bool) {
	e, ok := c.lookup(key)
	if !ok || c.now() >= e.fresh {
		return false, false
	}
	return e.allowed, true
}

// stale returns the answer for key past its lifetime but within
// stale_if_error, for when the source fails.
func (c *originCache) stale(key []byte) (allowed, ok bool) {
	e, ok := c.lookup(key)
	if !ok || c.now() >= e.stale {
		return false, false
	}
	return e.allowed, true
}

// put keeps a source's answer to the question of key, replacing the previous one. An answer
// that must not be stored removes the previous one too: it is the source's
// latest word.
func (c *originCache) put(k []byte, a OriginAnswer) {
	ttl := a.TTL
	switch {
	case ttl <= 0 && a.Allowed:
		ttl = c.settings.AllowTTL
	case ttl <= 0:
		ttl = c.settings.DenyTTL
	case ttl > maxOriginTTL:
		ttl = maxOriginTTL
	}
	now := c.now()
	e := cacheEntry{allowed: a.Allowed, fresh: now + int64(ttl), stale: now + int64(ttl+c.settings.StaleIfError)}

	key := string(k)

	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.allowed, key)
	delete(c.refused, key)
	if a.NoStore {
		return
	}
	if len(c.allowed)+len(c.refused) >= c.settings.MaxEntries && !c.evict(a.Allowed, now) {
		return
	}
	if a.Allowed {
		c.allowed[key] = e
	} else {
		c.refused[key] = e
	}
}

// evict makes room for one entry, and reports whether it could. A refusal
// only ever takes the place of another refusal; an allowed answer takes the
// place of a refusal if there is one, else of an allowed answer, preferring
// one that can no longer serve even as a stale answer. Map iteration order
// is random, which makes the choice among refusals random too: an attacker
// cannot predict which entries a flood pushes out.
func (c *originCache) evict(allowed bool, now int64) bool {
	for k := range c.refused {
		delete(c.refused, k)
		return true
	}
	if !allowed {
		return false // the cache is full of allowed answers: keep them
	}
	const probes = 8
	var victim string
	n := 0
	for k, e := range c.allowed {
		victim = k
		n++
		if e.stale <= now || n >= probes {
			break
		}
	}
	delete(c.allowed, victim)
	return true
}

// len returns the number of entries, allowed and refused.
func (c *originCache) len() (allowed, refused int) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.allowed), len(c.refused)
}

// originCache checks the origin_cache settings.
func (c *compiler) originCache(h *Handler) {
	oc := h.OriginCache
	if oc == nil {
		return
	}
	if len(h.SourcesRaw) == 0 {
		c.errorf("origin_cache", -1, "origin_cache keeps the answers of origin sources, and there is none: add an origin_source (e.g. origin_source http https://auth.internal/cors-ask), or remove origin_cache")
	}
	for _, d := range []struct {
		field string
		v     caddy.Duration
		eg    string
	}{
		{"allow_ttl", oc.AllowTTL, "5m"},
		{"deny_ttl", oc.DenyTTL, "1m"},
		{"stale_if_error", oc.StaleIfError, "1h"},
	} {
		if d.v < 0 {
			c.errorf("origin_cache."+d.field, -1, "%v is negative: write a duration such as %q, or leave it out for the default %s", time.Duration(d.v), d.eg, d.eg)
		}
	}
	if oc.MaxEntries < 0 {
		c.errorf("origin_cache.max_entries", -1, "%d is negative: write a number of answers such as 10000, or leave it out for the default 10000", oc.MaxEntries)
	}
}
