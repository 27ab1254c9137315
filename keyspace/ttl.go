package keyspace

import (
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"time"
)

// TTLConfig gives a keyed state a time-to-live, as Flink's StateTtlConfig
// does: a value (a list element, a map entry) expires TTL after it was last
// written, or last read or written with OnReadAndWrite. Time is the store's
// clock (KeyedStore.SetClock), in whole milliseconds.
//
// Expired values are removed when they are accessed ("cleanup on access")
// and by KeyedStore.CleanupExpired, which the runtime calls periodically
// ("in the background"). Until then they still take space, count in Stats
// and are written to snapshots, whose restore keeps their timestamps: time
// to live is not reset by a restore.
type TTLConfig struct {
	// TTL is how long a value lives; it must be at least a millisecond.
	TTL time.Duration
	// Update says which accesses restart a value's time to live. The zero
	// value is OnCreateAndWrite.
	Update TTLUpdate
	// Visibility says whether an expired value that is still stored may be
	// returned. The zero value is NeverReturnExpired.
	Visibility TTLVisibility
}

// TTLUpdate says which accesses restart a value's time to live.
type TTLUpdate uint8

const (
	// OnCreateAndWrite restarts the time to live when a value is written.
	OnCreateAndWrite TTLUpdate = iota
	// OnReadAndWrite restarts it when a value is written or read.
	OnReadAndWrite
)

// TTLVisibility says what a read of an expired value returns.
type TTLVisibility uint8

const (
	// NeverReturnExpired reads an expired value as absent.
	NeverReturnExpired TTLVisibility = iota
	// ReturnExpiredIfNotCleanedUp returns an expired value that has not been
	// removed yet, once: the read that returns it also removes it. Reducing
	// and aggregating states never fold new inputs into an expired value,
	// whatever the visibility, as in Flink.
	ReturnExpiredIfNotCleanedUp
)

func (c TTLConfig) validate() error {
	switch {
	case c.TTL < time.Millisecond:
		return fmt.Errorf("state TTL %v is too short: it must be at least 1ms", c.TTL)
	case c.Update > OnReadAndWrite:
		return fmt.Errorf("state TTL update mode %d is unknown: use keyspace.OnCreateAndWrite or keyspace.OnReadAndWrite", c.Update)
	case c.Visibility > ReturnExpiredIfNotCleanedUp:
		return fmt.Errorf("state TTL visibility %d is unknown: use keyspace.NeverReturnExpired or keyspace.ReturnExpiredIfNotCleanedUp", c.Visibility)
	}
	return nil
}

// String describes the configuration for error messages, e.g.
// "TTL 1m0s on create and write, never return expired".
func (c TTLConfig) String() string {
	update, vis := "on create and write", "never return expired"
	if c.Update == OnReadAndWrite {
		update = "on read and write"
	}
	if c.Visibility == ReturnExpiredIfNotCleanedUp {
		vis = "return expired if not cleaned up"
	}
	return fmt.Sprintf("TTL %v %s, %s", c.TTL, update, vis)
}

// stamped is what a TTL state stores in place of a value: the value and when
// its time to live last started.
type stamped[V any] struct {
	v  V
	ts int64 // Unix milliseconds
}

// stampedCodec encodes a stamped value as the 8-byte big-endian timestamp,
// then the value's encoding. The timestamp comes first so that Pebble's
// background cleanup can test expiry without decoding the value.
type stampedCodec[V any] struct{ inner Codec[V] }

func (c stampedCodec[V]) Append(dst []byte, s stamped[V]) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(s.ts))
	return c.inner.Append(dst, s.v)
}

func (c stampedCodec[V]) Decode(src []byte) (stamped[V], error) {
	if len(src) < 8 {
		return stamped[V]{}, errors.New("decode TTL state value: shorter than its 8-byte timestamp")
	}
	v, err := c.inner.Decode(src[8:])
	return stamped[V]{v: v, ts: int64(binary.BigEndian.Uint64(src))}, err
}

// stampOf reads the timestamp of an encoded stamped value.
func stampOf(enc []byte) (int64, bool) {
	if len(enc) < 8 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(enc)), true
}

// ttlPolicy is a TTL state's configuration bound to its store's clock.
type ttlPolicy struct {
	cfg TTLConfig
	ms  int64
	now func() int64 // the store's clock in Unix milliseconds
}

func newTTLPolicy(cfg TTLConfig, now func() int64) *ttlPolicy {
	return &ttlPolicy{cfg: cfg, ms: cfg.TTL.Milliseconds(), now: now}
}

func (p *ttlPolicy) expired(ts, now int64) bool { return now-ts >= p.ms }

func (p *ttlPolicy) returnExpired() bool { return p.cfg.Visibility == ReturnExpiredIfNotCleanedUp }

func (p *ttlPolicy) refreshOnRead() bool { return p.cfg.Update == OnReadAndWrite }

// ttlValue is a ValueState with TTL on a value state of stamped values.
type ttlValue[V any] struct {
	inner ValueState[stamped[V]]
	p     *ttlPolicy
}

// get returns the current key's value. An expired value is removed, and
// returned only if visible says so and the policy allows it.
func (s *ttlValue[V]) get(visible bool) (V, bool) {
	sv, ok := s.inner.Value()
	if !ok {
		var zero V
		return zero, false
	}
	now := s.p.now()
	if s.p.expired(sv.ts, now) {
		s.inner.Clear()
		if visible && s.p.returnExpired() {
			return sv.v, true
		}
		var zero V
		return zero, false
	}
	if s.p.refreshOnRead() && sv.ts != now {
		s.inner.Update(stamped[V]{v: sv.v, ts: now})
	}
	return sv.v, true
}

func (s *ttlValue[V]) Value() (V, bool) { return s.get(true) }

// live is the read that reduction and aggregation start from: it never
// returns an expired value.
func (s *ttlValue[V]) live() (V, bool) { return s.get(false) }

func (s *ttlValue[V]) Update(v V) { s.inner.Update(stamped[V]{v: v, ts: s.p.now()}) }

func (s *ttlValue[V]) Clear() { s.inner.Clear() }

// reducingOn implements ReducingState on a value state. live reads the value
// a new input is folded into: the state's own Value, or for TTL state its
// unexpired value.
type reducingOn[V any] struct {
	v      ValueState[V]
	live   func() (V, bool)
	reduce func(a, b V) V
}

func (r *reducingOn[V]) Get() (V, bool) { return r.v.Value() }

func (r *reducingOn[V]) Add(x V) {
	if old, ok := r.live(); ok {
		x = r.reduce(old, x)
	}
	r.v.Update(x)
}

func (r *reducingOn[V]) Clear() { r.v.Clear() }

// aggregatingOn implements AggregatingState on a value state of
// accumulators; live is as for reducingOn.
type aggregatingOn[IN, ACC, OUT any] struct {
	v    ValueState[ACC]
	live func() (ACC, bool)
	fn   AggregateFunction[IN, ACC, OUT]
}

func (a *aggregatingOn[IN, ACC, OUT]) Get() (OUT, bool) {
	acc, ok := a.v.Value()
	if !ok {
		var zero OUT
		return zero, false
	}
	return a.fn.Result(acc), true
}

func (a *aggregatingOn[IN, ACC, OUT]) Add(in IN) {
	acc, ok := a.live()
	if !ok {
		acc = a.fn.CreateAccumulator()
	}
	a.v.Update(a.fn.Add(in, acc))
}

func (a *aggregatingOn[IN, ACC, OUT]) Clear() { a.v.Clear() }

// ttlList is a ListState with TTL per element, on a list state of stamped
// elements.
type ttlList[V any] struct {
	inner ListState[stamped[V]]
	p     *ttlPolicy
}

// Get returns a new slice of the visible elements. Expired elements are
// removed from the stored list; with OnReadAndWrite the returned elements'
// time to live restarts.
func (l *ttlList[V]) Get() []V {
	stored := l.inner.Get()
	if len(stored) == 0 {
		return nil
	}
	now := l.p.now()
	out := make([]V, 0, len(stored))
	var keep []stamped[V]
	expired, refresh := 0, l.p.refreshOnRead()
	for i, e := range stored {
		if l.p.expired(e.ts, now) {
			if expired == 0 {
				keep = append(make([]stamped[V], 0, len(stored)), stored[:i]...)
			}
			expired++
			if l.p.returnExpired() {
				out = append(out, e.v)
			}
			continue
		}
		out = append(out, e.v)
		if expired > 0 {
			keep = append(keep, e)
		}
	}
	switch {
	case refresh:
		if expired == 0 {
			keep = append(make([]stamped[V], 0, len(stored)), stored...)
		}
		for i := range keep {
			keep[i].ts = now
		}
		l.inner.Update(keep)
	case expired > 0:
		l.inner.Update(keep)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (l *ttlList[V]) Add(v V) { l.inner.Add(stamped[V]{v: v, ts: l.p.now()}) }

func (l *ttlList[V]) AddAll(vs []V) { l.inner.AddAll(l.stampAll(vs)) }

func (l *ttlList[V]) Update(vs []V) { l.inner.Update(l.stampAll(vs)) }

func (l *ttlList[V]) Clear() { l.inner.Clear() }

func (l *ttlList[V]) stampAll(vs []V) []stamped[V] {
	if len(vs) == 0 {
		return nil
	}
	now := l.p.now()
	out := make([]stamped[V], len(vs))
	for i, v := range vs {
		out[i] = stamped[V]{v: v, ts: now}
	}
	return out
}

// ttlMap is a MapState with TTL per entry, on a map state of stamped values.
type ttlMap[UK comparable, UV any] struct {
	inner MapState[UK, stamped[UV]]
	p     *ttlPolicy
}

// visible applies the policy to entry k holding sv at time now: it removes an
// expired entry, refreshes a live one under OnReadAndWrite, and says whether
// the entry is to be shown.
func (m *ttlMap[UK, UV]) visible(k UK, sv stamped[UV], now int64) bool {
	if m.p.expired(sv.ts, now) {
		m.inner.Remove(k)
		return m.p.returnExpired()
	}
	if m.p.refreshOnRead() && sv.ts != now {
		m.inner.Put(k, stamped[UV]{v: sv.v, ts: now})
	}
	return true
}

func (m *ttlMap[UK, UV]) Get(k UK) (UV, bool) {
	sv, ok := m.inner.Get(k)
	if !ok || !m.visible(k, sv, m.p.now()) {
		var zero UV
		return zero, false
	}
	return sv.v, true
}

func (m *ttlMap[UK, UV]) Put(k UK, v UV) { m.inner.Put(k, stamped[UV]{v: v, ts: m.p.now()}) }

func (m *ttlMap[UK, UV]) Remove(k UK) { m.inner.Remove(k) }

func (m *ttlMap[UK, UV]) Contains(k UK) bool {
	_, ok := m.Get(k)
	return ok
}

func (m *ttlMap[UK, UV]) All() iter.Seq2[UK, UV] {
	return func(yield func(UK, UV) bool) {
		now := m.p.now()
		for k, sv := range m.inner.All() {
			if m.visible(k, sv, now) && !yield(k, sv.v) {
				return
			}
		}
	}
}

// Len counts the visible entries, removing expired ones on the way.
func (m *ttlMap[UK, UV]) Len() int {
	n := 0
	for range m.All() {
		n++
	}
	return n
}

func (m *ttlMap[UK, UV]) Clear() { m.inner.Clear() }
