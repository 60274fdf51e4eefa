package cors

import (
	"fmt"
	"testing"
	"time"
)

// fakeClock is a clock the tests move by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestCache(s cacheSettings) (*originCache, *fakeClock) {
	clock := &fakeClock{t: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	return newOriginCache(s, clock.now), clock
}

func TestOriginCacheLifetimes(t *testing.T) {
	defaults := (*OriginCache)(nil).settings()
	k := cacheKey{"https://a.com", "api.example.com"}
	tests := []struct {
		name      string
		answer    OriginAnswer
		after     time.Duration
		wantFresh bool
		wantStale bool // still usable when the source fails
	}{
		{"allowed is kept allow_ttl", OriginAnswer{Allowed: true}, defaults.AllowTTL - time.Second, true, true},
		{"allowed expires after allow_ttl", OriginAnswer{Allowed: true}, defaults.AllowTTL, false, true},
		{"refused is kept deny_ttl", OriginAnswer{}, defaults.DenyTTL - time.Second, true, true},
		{"refused expires after deny_ttl", OriginAnswer{}, defaults.DenyTTL, false, true},
		{"stale answers end after stale_if_error", OriginAnswer{Allowed: true}, defaults.AllowTTL + defaults.StaleIfError, false, false},
		{"the answer's own lifetime wins", OriginAnswer{Allowed: true, TTL: 10 * time.Second}, 10 * time.Second, false, true},
		{"a longer own lifetime wins too", OriginAnswer{Allowed: true, TTL: time.Hour}, 30 * time.Minute, true, true},
		{"own lifetimes are capped at 24h", OriginAnswer{Allowed: true, TTL: 48 * time.Hour}, 24 * time.Hour, false, true},
		{"no-store is not kept", OriginAnswer{Allowed: true, NoStore: true}, 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, clock := newTestCache(defaults)
			c.put(k, tt.answer)
			clock.advance(tt.after)
			allowed, fresh := c.get(k)
			if fresh != tt.wantFresh || fresh && allowed != tt.answer.Allowed {
				t.Errorf("get after %v = (%v, %v), want fresh %v", tt.after, allowed, fresh, tt.wantFresh)
			}
			allowed, stale := c.stale(k)
			if stale != tt.wantStale || stale && allowed != tt.answer.Allowed {
				t.Errorf("stale after %v = (%v, %v), want %v", tt.after, allowed, stale, tt.wantStale)
			}
		})
	}
}

func TestOriginCacheAnswersOnlyTheExactQuestion(t *testing.T) {
	c, _ := newTestCache((*OriginCache)(nil).settings())
	c.put(cacheKey{"https://a.com", "api.example.com"}, OriginAnswer{Allowed: true})
	for _, k := range []cacheKey{
		{"https://a.com.evil.net", "api.example.com"},
		{"http://a.com", "api.example.com"},
		{"https://a.com:444", "api.example.com"},
		{"https://a.com", "other.example.com"},
	} {
		if _, fresh := c.get(k); fresh {
			t.Errorf("the answer for https://a.com on api.example.com answered %v", k)
		}
	}
}

func TestOriginCacheNoStoreForgetsThePreviousAnswer(t *testing.T) {
	c, _ := newTestCache((*OriginCache)(nil).settings())
	k := cacheKey{"https://a.com", "h"}
	c.put(k, OriginAnswer{Allowed: true})
	c.put(k, OriginAnswer{NoStore: true})
	if _, ok := c.stale(k); ok {
		t.Error("an allowed answer outlived a no-store refusal")
	}
}

func TestOriginCacheReplacesAnAnswer(t *testing.T) {
	c, _ := newTestCache((*OriginCache)(nil).settings())
	k := cacheKey{"https://a.com", "h"}
	c.put(k, OriginAnswer{Allowed: true})
	c.put(k, OriginAnswer{})
	if allowed, fresh := c.get(k); !fresh || allowed {
		t.Errorf("get = (%v, %v), want the later refusal", allowed, fresh)
	}
	if a, r := c.len(); a != 0 || r != 1 {
		t.Errorf("%d allowed and %d refused entries, want 0 and 1", a, r)
	}
}

// TestOriginCacheFloodOfRefusalsKeepsAllowed pins the bound: 10,000 distinct
// refused origins leave every allowed answer in place, and the cache never
// holds more than max_entries.
func TestOriginCacheFloodOfRefusalsKeepsAllowed(t *testing.T) {
	s := (*OriginCache)(nil).settings()
	s.MaxEntries = 100
	c, _ := newTestCache(s)
	var allowed []cacheKey
	for i := range 60 {
		k := cacheKey{fmt.Sprintf("https://tenant%d.example", i), "api.example.com"}
		allowed = append(allowed, k)
		c.put(k, OriginAnswer{Allowed: true})
	}
	for i := range 10000 {
		c.put(cacheKey{fmt.Sprintf("https://spam%d.example", i), "api.example.com"}, OriginAnswer{})
		if a, r := c.len(); a+r > s.MaxEntries {
			t.Fatalf("%d entries, want at most %d", a+r, s.MaxEntries)
		}
	}
	for _, k := range allowed {
		if ok, fresh := c.get(k); !ok || !fresh {
			t.Errorf("%s was evicted by refusals", k.origin)
		}
	}
	if a, r := c.len(); a != 60 || r != 40 {
		t.Errorf("%d allowed and %d refused entries, want 60 and 40", a, r)
	}
}

func TestOriginCacheFullOfAllowed(t *testing.T) {
	s := (*OriginCache)(nil).settings()
	s.MaxEntries = 10
	c, _ := newTestCache(s)
	for i := range 10 {
		c.put(cacheKey{fmt.Sprintf("https://t%d.example", i), "h"}, OriginAnswer{Allowed: true})
	}
	c.put(cacheKey{"https://spam.example", "h"}, OriginAnswer{})
	if a, r := c.len(); a != 10 || r != 0 {
		t.Errorf("a refusal displaced an allowed answer: %d allowed, %d refused", a, r)
	}
	c.put(cacheKey{"https://new.example", "h"}, OriginAnswer{Allowed: true})
	if a, _ := c.len(); a != 10 {
		t.Errorf("%d allowed entries, want the bound, 10", a)
	}
	if ok, fresh := c.get(cacheKey{"https://new.example", "h"}); !ok || !fresh {
		t.Error("a new allowed answer was not kept in a cache full of allowed answers")
	}
}

// TestOriginCacheHitAllocatesNothing pins the cost of the hit path.
func TestOriginCacheHitAllocatesNothing(t *testing.T) {
	c, _ := newTestCache((*OriginCache)(nil).settings())
	c.put(cacheKey{"https://a.com", "h"}, OriginAnswer{Allowed: true})
	origin, host := "https://a.com", "h"
	if n := testing.AllocsPerRun(100, func() { c.get(cacheKey{origin, host}) }); n != 0 {
		t.Errorf("%v allocations per hit, want 0", n)
	}
}
