package main

import (
	"time"

	"github.com/google/uuid"
)

// The authenticator's process memory: tokens verified against Postgres (bounded, least
// recently used out first, indexed by subject so that a revocation drops a subject's
// tokens without scanning), and tokens refused by Postgres (briefly, so that a stream of
// requests with one bad token costs one lookup). The authenticator's mutex guards both.

// subjectKey names a client, a mitra or an operator.
type subjectKey struct {
	Kind SubjectKind
	ID   uuid.UUID
}

type cachedToken struct {
	caller    caller
	expiresAt time.Time
	cachedAt  time.Time
}

func (ct cachedToken) subject() subjectKey { return subjectKey{ct.caller.Kind, ct.caller.ID} }

// refusedToken is a refusal remembered until until. who is the token's subject when
// Postgres knows it (a revoked, expired or deactivated token), zero otherwise.
type refusedToken struct {
	err   *apiError
	until time.Time
	who   subjectKey
}

func (rt refusedToken) subject() subjectKey { return rt.who }

// tokenCache is tokens by hash, at most max of them, indexed by subject.
type tokenCache[V interface{ subject() subjectKey }] struct {
	tokens    *lru[tokenHash, V]
	bySubject map[subjectKey]map[tokenHash]struct{}
}

func newTokenCache[V interface{ subject() subjectKey }](max int) *tokenCache[V] {
	c := &tokenCache[V]{bySubject: map[subjectKey]map[tokenHash]struct{}{}}
	c.tokens = newLRU(max, func(h tokenHash, v V) { c.unindex(h, v.subject()) })
	return c
}

// get returns the token's entry and marks it used.
func (c *tokenCache[V]) get(h tokenHash) (V, bool) { return c.tokens.get(h) }

func (c *tokenCache[V]) put(h tokenHash, v V) {
	if old, ok := c.tokens.get(h); ok {
		c.unindex(h, old.subject())
	}
	if k := v.subject(); k != (subjectKey{}) {
		set := c.bySubject[k]
		if set == nil {
			set = map[tokenHash]struct{}{}
			c.bySubject[k] = set
		}
		set[h] = struct{}{}
	}
	c.tokens.put(h, v)
}

func (c *tokenCache[V]) drop(h tokenHash) {
	if v, ok := c.tokens.remove(h); ok {
		c.unindex(h, v.subject())
	}
}

// dropSubject drops every token of a subject: O(its tokens), not O(the cache).
func (c *tokenCache[V]) dropSubject(k subjectKey) {
	for h := range c.bySubject[k] {
		c.tokens.remove(h)
	}
	delete(c.bySubject, k)
}

func (c *tokenCache[V]) clear() {
	c.tokens.clear()
	clear(c.bySubject)
}

func (c *tokenCache[V]) unindex(h tokenHash, k subjectKey) {
	if set := c.bySubject[k]; set != nil {
		delete(set, h)
		if len(set) == 0 {
			delete(c.bySubject, k)
		}
	}
}

func (c *tokenCache[V]) len() int { return c.tokens.len() }

// lru is a map bounded to max entries that drops the least recently used one to make room.
// Entries form a doubly linked list, most recent first: get, put and remove are O(1), and
// get allocates nothing. Not safe for concurrent use.
type lru[K comparable, V any] struct {
	max        int
	items      map[K]*lruEntry[K, V]
	head, tail *lruEntry[K, V] // most and least recently used
	onEvict    func(K, V)      // called for entries dropped to make room
}

type lruEntry[K comparable, V any] struct {
	key        K
	val        V
	prev, next *lruEntry[K, V]
}

func newLRU[K comparable, V any](max int, onEvict func(K, V)) *lru[K, V] {
	return &lru[K, V]{max: max, items: map[K]*lruEntry[K, V]{}, onEvict: onEvict}
}

func (l *lru[K, V]) get(k K) (V, bool) {
	e, ok := l.items[k]
	if !ok {
		var zero V
		return zero, false
	}
	l.toFront(e)
	return e.val, true
}

func (l *lru[K, V]) put(k K, v V) {
	if e, ok := l.items[k]; ok {
		e.val = v
		l.toFront(e)
		return
	}
	for len(l.items) >= l.max && l.tail != nil {
		old := l.tail
		l.unlink(old)
		delete(l.items, old.key)
		if l.onEvict != nil {
			l.onEvict(old.key, old.val)
		}
	}
	e := &lruEntry[K, V]{key: k, val: v}
	l.items[k] = e
	l.pushFront(e)
}

func (l *lru[K, V]) remove(k K) (V, bool) {
	e, ok := l.items[k]
	if !ok {
		var zero V
		return zero, false
	}
	l.unlink(e)
	delete(l.items, k)
	return e.val, true
}

func (l *lru[K, V]) clear() {
	clear(l.items)
	l.head, l.tail = nil, nil
}

func (l *lru[K, V]) len() int { return len(l.items) }

func (l *lru[K, V]) toFront(e *lruEntry[K, V]) {
	if l.head == e {
		return
	}
	l.unlink(e)
	l.pushFront(e)
}

func (l *lru[K, V]) pushFront(e *lruEntry[K, V]) {
	e.prev, e.next = nil, l.head
	if l.head != nil {
		l.head.prev = e
	}
	l.head = e
	if l.tail == nil {
		l.tail = e
	}
}

func (l *lru[K, V]) unlink(e *lruEntry[K, V]) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		l.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		l.tail = e.prev
	}
	e.prev, e.next = nil, nil
}
