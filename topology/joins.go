package topology

import (
	"errors"
	"time"

	"github.com/floestream/floe/keyspace"
	"github.com/floestream/floe/timers"
)

// Either holds a record of one of two streams: the element of a window join
// before it is joined.
type Either[A, B any] struct {
	Left    A
	Right   B
	IsRight bool
}

// WindowJoin joins two keyed streams on their key within windows, as Flink's
// DataStream.join().where().equalTo().window(): every pair of a left and a
// right record of the same key in the same window goes through join, when
// the window fires. What it emits carries the window's last timestamp.
func WindowJoin[A, B any, K comparable, W timers.Window, OUT any](left Keyed[A, K], right Keyed[B, K],
	assigner timers.Assigner[W], name string, join func(a A, b B) OUT) Stream[OUT] {
	j := left.stream.job()
	checkFunc(j, name, join)
	l := Map(left.stream, name+"-left", func(a A) Either[A, B] { return Either[A, B]{Left: a} })
	r := Map(right.stream, name+"-right", func(b B) Either[A, B] { return Either[A, B]{Right: b, IsRight: true} })
	keyA, keyB := left.key, right.key
	both := KeyBy(Union(l, r), func(e Either[A, B]) K {
		if e.IsRight {
			return keyB(e.Right)
		}
		return keyA(e.Left)
	})
	return WindowProcess(Window(both, assigner), name, ProcessWindowFunc[Either[A, B], OUT, K, W](
		func(_ *WindowContext[K, W], elements []Either[A, B], out Collector[OUT]) error {
			for _, x := range elements {
				if x.IsRight {
					continue
				}
				for _, y := range elements {
					if y.IsRight {
						out.Collect(join(x.Left, y.Right))
					}
				}
			}
			return nil
		}))
}

// IntervalJoin joins each left record a with every right record b of the
// same key whose timestamp lies in [a's + lower, a's + upper], as Flink's
// interval join: both streams need event timestamps; records are kept until
// the watermark shows no partner can come any more; records behind the
// watermark on arrival are dropped. What it emits carries the larger of the
// two timestamps.
func IntervalJoin[A, B any, K comparable, OUT any](left Keyed[A, K], right Keyed[B, K], lower, upper time.Duration,
	name string, join func(ctx *KeyedContext[K], a A, b B, out Collector[OUT]) error) Stream[OUT] {
	j := left.stream.job()
	checkFunc(j, name, join)
	lo, hi := lower.Milliseconds(), upper.Milliseconds()
	if lo > hi {
		j.fail("interval join %q: lower bound %s is above upper bound %s", name, lower, upper)
	}
	n := twoInput[A, B, OUT](left.stream, right.stream, name, true)
	n.Timestamped = true
	n.open = func(env *Env, o any) (Instance, error) {
		ctx, err := newKeyedContext(env, left.hash)
		if err != nil {
			return nil, err
		}
		op := &intervalJoin[A, B, K, OUT]{call: newCall(env, n.ID), env: env, ctx: ctx, out: o.(Collector[OUT]),
			join: join, lower: lo, upper: hi, cleanup: timers.NewQueue[K, bufferRef]()}
		if op.lefts, err = keyspace.NewMapState[K, int64, []A](ctx.store, "interval-join-left"); err != nil {
			return nil, err
		}
		if op.rights, err = keyspace.NewMapState[K, int64, []B](ctx.store, "interval-join-right"); err != nil {
			return nil, err
		}
		if env.Restored != nil || env.Checkpointing {
			codecs, err := newTimerCodecs[K, bufferRef]()
			if err != nil {
				return nil, err
			}
			if err := codecs.restore(env, joinTimersPart, op.cleanup); err != nil {
				return nil, err
			}
			env.onSnapshot(func(int64) ([]StatePart, error) {
				return []StatePart{codecs.snapshot(joinTimersPart, env.KeyGroups, op.cleanup)}, nil
			})
		}
		op.in1 = keyedCoInput[K, A]{ctx: ctx, key: left.key, coInput: coInput[A]{op: &op.call, fn: op.addLeft}}
		op.in2 = keyedCoInput[K, B]{ctx: ctx, key: right.key, coInput: coInput[B]{op: &op.call, fn: op.addRight}}
		return op, nil
	}
	return Stream[OUT]{node: n}
}

// joinTimersPart is the part holding an interval join's cleanup timers.
const joinTimersPart = "join-timers"

// bufferRef names the buffered records of one side at one timestamp, for
// their cleanup timer.
type bufferRef struct {
	right bool
	ts    int64
}

type intervalJoin[A, B any, K comparable, OUT any] struct {
	call
	env          *Env
	ctx          *KeyedContext[K]
	out          Collector[OUT]
	join         func(*KeyedContext[K], A, B, Collector[OUT]) error
	lower, upper int64
	lefts        keyspace.MapState[int64, []A]
	rights       keyspace.MapState[int64, []B]
	cleanup      *timers.Queue[K, bufferRef]
	in1, in2     any
}

func (o *intervalJoin[A, B, K, OUT]) Input(i int) any {
	if i == 0 {
		return o.in1
	}
	return o.in2
}

var errJoinNoTimestamp = errors.New("an interval join got a record without a timestamp: " +
	"give both streams timestamps with topology.AssignTimestamps")

func (o *intervalJoin[A, B, K, OUT]) timestamp() int64 {
	ts := *o.env.Timestamp
	if ts == NoTimestamp {
		raise(errJoinNoTimestamp)
	}
	return ts
}

func (o *intervalJoin[A, B, K, OUT]) emit(a A, b B, ta, tb int64) error {
	*o.env.Timestamp = max(ta, tb)
	return o.join(o.ctx, a, b, o.out)
}

func (o *intervalJoin[A, B, K, OUT]) addLeft(a A) error {
	ts := o.timestamp()
	if ts < o.ctx.watermark {
		return nil // late: no partner can be relied on any more
	}
	as, _ := o.lefts.Get(ts)
	o.lefts.Put(ts, append(as, a))
	for tb, bs := range o.rights.All() {
		if tb < ts+o.lower || tb > ts+o.upper {
			continue
		}
		for _, b := range bs {
			if err := o.emit(a, b, ts, tb); err != nil {
				return err
			}
		}
	}
	*o.env.Timestamp = ts
	o.registerCleanup(false, ts, ts+max(o.upper, 0))
	return nil
}

func (o *intervalJoin[A, B, K, OUT]) addRight(b B) error {
	ts := o.timestamp()
	if ts < o.ctx.watermark {
		return nil
	}
	bs, _ := o.rights.Get(ts)
	o.rights.Put(ts, append(bs, b))
	for ta, as := range o.lefts.All() {
		if ts < ta+o.lower || ts > ta+o.upper {
			continue
		}
		for _, a := range as {
			if err := o.emit(a, b, ta, ts); err != nil {
				return err
			}
		}
	}
	*o.env.Timestamp = ts
	o.registerCleanup(true, ts, ts-min(o.lower, 0))
	return nil
}

func (o *intervalJoin[A, B, K, OUT]) registerCleanup(right bool, ts, at int64) {
	o.cleanup.Register(timers.Timer[K, bufferRef]{Time: at, Key: o.ctx.store.CurrentKey(),
		Namespace: bufferRef{right: right, ts: ts}, KeyGroup: o.ctx.store.CurrentKeyGroup()})
}

func (o *intervalJoin[A, B, K, OUT]) EndInput() error            { return nil }
func (o *intervalJoin[A, B, K, OUT]) Close(bool) error           { return o.ctx.close() }
func (o *intervalJoin[A, B, K, OUT]) StateStats() keyspace.Stats { return o.ctx.StateStats() }
func (o *intervalJoin[A, B, K, OUT]) CleanupExpired(n int) int   { return o.ctx.CleanupExpired(n) }

// OnWatermark drops buffered records that no future record can join.
func (o *intervalJoin[A, B, K, OUT]) OnWatermark(wm int64) (bool, error) {
	o.ctx.watermark = wm
	for {
		t, ok := o.cleanup.PopDue(wm)
		if !ok {
			return true, nil
		}
		o.ctx.store.SetCurrentKey(t.Key, t.KeyGroup)
		if t.Namespace.right {
			o.rights.Remove(t.Namespace.ts)
		} else {
			o.lefts.Remove(t.Namespace.ts)
		}
	}
}
