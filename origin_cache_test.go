package cors

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// cacheKey is a question to a source, in the tests.
type cacheKey struct {
	origin, host string
}

// key is the cache's key for k.
func (k cacheKey) key() []byte { return appendKey(nil, k.origin, k.host) }

// fakeClock is a clock the tests move by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() int64              { return c.t.UnixNano() }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestCache(s cacheSettings) (*originCache, *fakeClock) {
	clock := &fakeClock{t: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	return newOriginCache(s, clock.now), clock
}

// TestOriginCacheSettingsFillDefaults pins that a setting left at zero
// takes its default and any positive one is kept, down to the smallest.
func TestOriginCacheSettingsFillDefaults(t *testing.T) {
	defaults := cacheSettings{defaultAllowTTL, defaultDenyTTL, defaultStaleIfError, defaultMaxEntries}
	tests := []struct {
		name string
		c    *OriginCache
		want cacheSettings
	}{
		{"no origin_cache", nil, defaults},
		{"an empty origin_cache", &OriginCache{}, defaults},
		{"every setting given", &OriginCache{
			AllowTTL:     caddy.Duration(time.Second),
			DenyTTL:      caddy.Duration(2 * time.Second),
			StaleIfError: caddy.Duration(3 * time.Second),
			MaxEntries:   4,
		}, cacheSettings{time.Second, 2 * time.Second, 3 * time.Second, 4}},
		{"the smallest settings", &OriginCache{
			AllowTTL:     1,
			DenyTTL:      1,
			StaleIfError: 1,
			MaxEntries:   1,
		}, cacheSettings{1, 1, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.settings(); got != tt.want {
				t.Errorf("settings() = %+v, want %+v", got, tt.want)
			}
		})
	}
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
			c.put(k.key(), tt.answer)
			clock.advance(tt.after)
			allowed, fresh := c.get(k.key())
			if fresh != tt.wantFresh || fresh && allowed != tt.answer.Allowed {
				t.Errorf("get after %v = (%v, %v), want fresh %v", tt.after, allowed, fresh, tt.wantFresh)
			}
			allowed, stale := c.stale(k.key())
			if stale != tt.wantStale || stale && allowed != tt.answer.Allowed {
				t.Errorf("stale after %v = (%v, %v), want %v", tt.after, allowed, stale, tt.wantStale)
			}
		})
	}
}

func TestOriginCacheAnswersOnlyTheExactQuestion(t *testing.T) {
	c, _ := newTestCache((*OriginCache)(nil).settings())
	c.put(cacheKey{"https://a.com", "api.example.com"}.key(), OriginAnswer{Allowed: true})
	for _, k := range []cacheKey{
		{"https://a.com.evil.net", "api.example.com"},
		{"http://a.com", "api.example.com"},
		{"https://a.com:444", "api.example.com"},
		{"https://a.com", "other.example.com"},
		{"https://a.coma", "pi.example.com"}, // the same bytes, split elsewhere
		{"https://a.co", "mapi.example.com"},
	} {
		if _, fresh := c.get(k.key()); fresh {
			t.Errorf("the answer for https://a.com on api.example.com answered %v", k)
		}
	}
}

func TestOriginCacheNoStoreForgetsThePreviousAnswer(t *testing.T) {
	c, _ := newTestCache((*OriginCache)(nil).settings())
	k := cacheKey{"https://a.com", "h"}
	c.put(k.key(), OriginAnswer{Allowed: true})
	c.put(k.key(), OriginAnswer{NoStore: true})
	if _, ok := c.stale(k.key()); ok {
		t.Error("an allowed answer outlived a no-store refusal")
	}
}

func TestOriginCacheReplacesAnAnswer(t *testing.T) {
	c, _ := newTestCache((*OriginCache)(nil).settings())
	k := cacheKey{"https://a.com", "h"}
	c.put(k.key(), OriginAnswer{Allowed: true})
	c.put(k.key(), OriginAnswer{})
	if allowed, fresh := c.get(k.key()); !fresh || allowed {
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
		c.put(k.key(), OriginAnswer{Allowed: true})
	}
	for i := range 10000 {
		c.put(cacheKey{fmt.Sprintf("https://spam%d.example", i), "api.example.com"}.key(), OriginAnswer{})
		if a, r := c.len(); a+r > s.MaxEntries {
			t.Fatalf("%d entries, want at most %d", a+r, s.MaxEntries)
		}
	}
	for _, k := range allowed {
		if ok, fresh := c.get(k.key()); !ok || !fresh {
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
		c.put(cacheKey{fmt.Sprintf("https://t%d.example", i), "h"}.key(), OriginAnswer{Allowed: true})
	}
	c.put(cacheKey{"https://spam.example", "h"}.key(), OriginAnswer{})
	if a, r := c.len(); a != 10 || r != 0 {
		t.Errorf("a refusal displaced an allowed answer: %d allowed, %d refused", a, r)
	}
	c.put(cacheKey{"https://new.example", "h"}.key(), OriginAnswer{Allowed: true})
	if a, _ := c.len(); a != 10 {
		t.Errorf("%d allowed entries, want the bound, 10", a)
	}
	if ok, fresh := c.get(cacheKey{"https://new.example", "h"}.key()); !ok || !fresh {
		t.Error("a new allowed answer was not kept in a cache full of allowed answers")
	}
}

// TestOriginCacheEvictsAnAnswerPastStaleFirst pins which allowed answer
// makes room in a cache full of them: one that can no longer serve, even
// as a stale answer, from the moment its stale_if_error ends. Which entry
// the map yields first is random, so the test fills the cache many times.
func TestOriginCacheEvictsAnAnswerPastStaleFirst(t *testing.T) {
	s := (*OriginCache)(nil).settings()
	s.MaxEntries = 8
	old := cacheKey{"https://old.example", "h"}
	for try := range 40 {
		c, clock := newTestCache(s)
		c.put(old.key(), OriginAnswer{Allowed: true, TTL: time.Second})
		clock.advance(time.Second + s.StaleIfError) // old's stale_if_error ends now
		for i := range 7 {
			c.put(cacheKey{fmt.Sprintf("https://t%d.example", i), "h"}.key(), OriginAnswer{Allowed: true})
		}
		c.put(cacheKey{"https://new.example", "h"}.key(), OriginAnswer{Allowed: true})
		if e, ok := c.lookup(old.key()); ok {
			t.Fatalf("try %d: the answer past stale_if_error (stale %d, now %d) was kept and a fresh one evicted", try, e.stale, clock.now())
		}
		if a, _ := c.len(); a != 8 {
			t.Fatalf("try %d: %d allowed entries, want 8", try, a)
		}
	}
}

// TestOriginCacheEvictionLooksAtEightEntries pins the bound on an
// eviction's work: it looks at no more than 8 entries for one past its
// stale_if_error, so that a put in a full cache of 10,000 costs what it
// costs in a small one. With 9 entries and the only one past stale_if_error
// sometimes last in the map's random order, that one must sometimes stay.
func TestOriginCacheEvictionLooksAtEightEntries(t *testing.T) {
	s := (*OriginCache)(nil).settings()
	s.MaxEntries = 9
	old := cacheKey{"https://old.example", "h"}
	kept := 0
	const tries = 2000
	for range tries {
		c, clock := newTestCache(s)
		c.put(old.key(), OriginAnswer{Allowed: true, TTL: time.Second})
		clock.advance(time.Second + s.StaleIfError + time.Minute)
		for i := range 8 {
			c.put(cacheKey{fmt.Sprintf("https://t%d.example", i), "h"}.key(), OriginAnswer{Allowed: true})
		}
		c.put(cacheKey{"https://new.example", "h"}.key(), OriginAnswer{Allowed: true})
		if _, ok := c.lookup(old.key()); ok {
			kept++
		}
	}
	if kept == 0 {
		t.Errorf("the one entry past stale_if_error was evicted in all %d tries: eviction looked at all 9 entries, want at most 8", tries)
	}
	if kept > tries/2 {
		t.Errorf("the one entry past stale_if_error was kept in %d of %d tries: eviction missed it most of the time", kept, tries)
	}
	t.Logf("kept in %d of %d tries", kept, tries)
}

// TestOriginCacheHitAllocatesNothing pins the cost of the hit path, for
// the longest origin and host that can be asked about too.
func TestOriginCacheHitAllocatesNothing(t *testing.T) {
	longHost := strings.Repeat(strings.Repeat("a", 63)+".", 4)[:maxHostLen]
	longOrigin := "https://" + longHost + ":65535"
	for _, k := range []cacheKey{
		{"https://a.com", "h"},
		{longOrigin, longHost},
	} {
		c, _ := newTestCache((*OriginCache)(nil).settings())
		c.put(k.key(), OriginAnswer{Allowed: true})
		origin, host := k.origin, k.host
		if ok, fresh := c.get(cacheKey{origin, host}.key()); !ok || !fresh {
			t.Fatalf("%d-byte origin: the answer was not kept", len(origin))
		}
		if n := testing.AllocsPerRun(100, func() {
			var buf [maxKeyLen]byte
			c.get(appendKey(buf[:0], origin, host))
		}); n != 0 {
			t.Errorf("%d-byte origin: %v allocations per hit, want 0", len(origin), n)
		}
	}
}

// wallClock is a wall clock the tests move by hand, read by a coarseClock's
// goroutine.
type wallClock struct {
	mu sync.Mutex
	t  time.Time
}

func (w *wallClock) now() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.t
}

func (w *wallClock) advance(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t = w.t.Add(d)
}

// TestOriginCacheLifetimesToWithinATick pins the granularity the docs give:
// read through the coarse clock, an answer is used at most one tick past its
// lifetime, and never before the clock has ticked past it is it dropped.
func TestOriginCacheLifetimesToWithinATick(t *testing.T) {
	wall := &wallClock{t: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	clock := &coarseClock{tick: time.Hour, wall: wall.now} // ticks by hand below
	clock.acquire()
	defer clock.release()
	s := (*OriginCache)(nil).settings()
	c := newOriginCache(s, clock.now)
	k := cacheKey{"https://a.com", "h"}
	c.put(k.key(), OriginAnswer{Allowed: true})

	wall.advance(s.AllowTTL - clockTick/2)
	clock.update()
	if _, fresh := c.get(k.key()); !fresh {
		t.Fatal("the answer expired before its lifetime")
	}
	wall.advance(clockTick - 1) // past the lifetime, the next tick not yet come
	if _, fresh := c.get(k.key()); !fresh {
		t.Fatal("the answer expired between two ticks")
	}
	clock.update() // within a tick of the lifetime's end
	if _, fresh := c.get(k.key()); fresh {
		t.Error("the answer was used past the first tick after its lifetime")
	}
}

// clockGoroutines counts the goroutines of coarse clocks that are running.
func clockGoroutines() int {
	buf := make([]byte, 1<<20)
	return bytes.Count(buf[:runtime.Stack(buf, true)], []byte("(*coarseClock).run("))
}

// waitClockGoroutines waits for the count of clock goroutines to be want,
// and returns the count.
func waitClockGoroutines(want int) int {
	n := clockGoroutines()
	for deadline := time.Now().Add(5 * time.Second); n != want && time.Now().Before(deadline); n = clockGoroutines() {
		time.Sleep(10 * time.Millisecond)
	}
	return n
}

// TestCoarseClockTicksWhileUsed pins the clock's life: the first user
// starts a goroutine that follows the wall clock, later users share it,
// the last release stops it, and a stopped clock reads the wall clock
// rather than standing still.
func TestCoarseClockTicksWhileUsed(t *testing.T) {
	wall := &wallClock{t: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	clock := &coarseClock{tick: time.Millisecond, wall: wall.now}
	before := clockGoroutines()

	clock.acquire()
	clock.acquire()
	if n := waitClockGoroutines(before + 1); n != before+1 {
		t.Errorf("%d clock goroutines for two users, want %d", n, before+1)
	}
	start := wall.now().UnixNano()
	if got := clock.now(); got != start {
		t.Errorf("a started clock reads %d, want the wall clock's %d", got, start)
	}
	wall.advance(time.Hour)
	for deadline := time.Now().Add(5 * time.Second); clock.now() == start && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if got := clock.now(); got != start+int64(time.Hour) {
		t.Errorf("after an hour and a few ticks the clock reads %v past its start, want 1h", time.Duration(got-start))
	}

	clock.release()
	if clock.nanos.Load() == 0 {
		t.Error("the clock stopped while a user was left")
	}
	clock.release()
	if n := waitClockGoroutines(before); n != before {
		t.Errorf("%d clock goroutines after the last release, want %d", n, before)
	}
	wall.advance(time.Minute)
	if got, want := clock.now(), wall.now().UnixNano(); got != want {
		t.Errorf("a stopped clock reads %v before the wall clock", time.Duration(want-got))
	}

	clock.acquire() // a clock starts again, at the wall clock's time
	defer clock.release()
	if got, want := clock.now(), wall.now().UnixNano(); got != want {
		t.Errorf("a restarted clock reads %v before the wall clock", time.Duration(want-got))
	}
}

// TestCacheKeySplitsBack pins that a key gives back its question, the host
// in lower case, whatever the origin's length.
func TestCacheKeySplitsBack(t *testing.T) {
	for _, origin := range []string{"https://a.com", "https://" + strings.Repeat("a", 300)} {
		// A and Z are the ends of the range folded; @ and [ lie just outside it.
		o, h := splitKey(string(appendKey(nil, origin, "API.Example-Z@[.com")))
		if o != origin || h != "api.example-z@[.com" {
			t.Errorf("splitKey(appendKey(%d-byte origin)) = %d-byte origin, host %q", len(origin), len(o), h)
		}
	}
}
