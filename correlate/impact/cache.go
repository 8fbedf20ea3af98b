package impact

import (
	"container/list"
	"sync"
	"time"

	"github.com/hindsight-ops/hindsight/correlate"
)

// entry is one cached measurement. Its slices are never changed once it is
// in the cache; readers get copies.
type entry struct {
	key     string
	metrics []correlate.ImpactMetric
	errs    []string
	expires time.Time // zero: until evicted
}

// lru is a fixed-size least-recently-used cache of measurements with an
// optional expiry per entry. It is safe for concurrent use.
type lru struct {
	mu    sync.Mutex
	size  int
	order *list.List // of *entry, most recently used first
	items map[string]*list.Element
}

func newLRU(size int) *lru {
	return &lru{size: size, order: list.New(), items: map[string]*list.Element{}}
}

// get returns the entry for key unless it is missing or expired at now.
func (c *lru) get(key string, now time.Time) (*entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*entry)
	if !e.expires.IsZero() && !now.Before(e.expires) {
		c.order.Remove(el)
		delete(c.items, key)
		return nil, false
	}
	c.order.MoveToFront(el)
	return e, true
}

// put stores e under key, replacing any entry there, and evicts the least
// recently used entry when the cache is full.
func (c *lru) put(key string, e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.key = key
	if el, ok := c.items[key]; ok {
		el.Value = e
		c.order.MoveToFront(el)
		return
	}
	c.items[key] = c.order.PushFront(e)
	for c.order.Len() > c.size {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*entry).key)
	}
}

// purge drops every entry.
func (c *lru) purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.order.Init()
	clear(c.items)
}

// len returns the number of entries, expired ones included.
func (c *lru) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
