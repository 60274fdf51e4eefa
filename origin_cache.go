package cors

import (
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// OriginCache sets how long the answers of origin sources that are asked
// (the http source) are kept. Lists (file, storage) live in memory and are
// not cached. Revoking an origin therefore takes up to allow_ttl, plus
// stale_if_error while the source fails.
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

// cacheKey is one question to a source. A struct of two strings, so that
// looking it up allocates nothing.
type cacheKey struct {
	origin, host string
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
	now      func() time.Time

	mu      sync.RWMutex
	allowed map[cacheKey]cacheEntry
	refused map[cacheKey]cacheEntry
}

func newOriginCache(s cacheSettings, now func() time.Time) *originCache {
	return &originCache{
		settings: s,
		now:      now,
		allowed:  map[cacheKey]cacheEntry{},
		refused:  map[cacheKey]cacheEntry{},
	}
}

// lookup returns the entry for k, if there is one.
func (c *originCache) lookup(k cacheKey) (cacheEntry, bool) {
	c.mu.RLock()
	e, ok := c.allowed[k]
	if !ok {
		e, ok = c.refused[k]
	}
	c.mu.RUnlock()
	return e, ok
}

// get returns the answer for k while it is fresh.
func (c *originCache) get(k cacheKey) (allowed, fresh bool) {
	e, ok := c.lookup(k)
	if !ok || c.now().UnixNano() >= e.fresh {
		return false, false
	}
	return e.allowed, true
}

// stale returns the answer for k past its lifetime but within
// stale_if_error, for when the source fails.
func (c *originCache) stale(k cacheKey) (allowed, ok bool) {
	e, ok := c.lookup(k)
	if !ok || c.now().UnixNano() >= e.stale {
		return false, false
	}
	return e.allowed, true
}

// put keeps a source's answer to k, replacing the previous one. An answer
// that must not be stored removes the previous one too: it is the source's
// latest word.
func (c *originCache) put(k cacheKey, a OriginAnswer) {
	ttl := a.TTL
	switch {
	case ttl <= 0 && a.Allowed:
		ttl = c.settings.AllowTTL
	case ttl <= 0:
		ttl = c.settings.DenyTTL
	case ttl > maxOriginTTL:
		ttl = maxOriginTTL
	}
	now := c.now().UnixNano()
	e := cacheEntry{allowed: a.Allowed, fresh: now + int64(ttl), stale: now + int64(ttl+c.settings.StaleIfError)}

	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.allowed, k)
	delete(c.refused, k)
	if a.NoStore {
		return
	}
	if len(c.allowed)+len(c.refused) >= c.settings.MaxEntries && !c.evict(a.Allowed, now) {
		return
	}
	if a.Allowed {
		c.allowed[k] = e
	} else {
		c.refused[k] = e
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
	var victim cacheKey
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
