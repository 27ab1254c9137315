package nexmark

import "math/bits"

// eventRand is the random source of one event: a splitmix64 stream that
// starts at a hash of (seed, event number). Every event draws from its own
// stream, so an event is a pure function of its config, seed and number, and
// a subtask can generate any event without the ones before it. The starting
// points are outputs of a bijective mixer, so the streams of two events (of
// some thirty draws each) overlap with negligible probability.
type eventRand struct{ s uint64 }

const golden = 0x9e3779b97f4a7c15 // splitmix64's increment: 2⁶⁴/φ, odd

// mix64 is splitmix64's finalizer, a bijection of uint64 with good avalanche.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// seedKey turns a user seed into the key of its event streams. Mixing it
// keeps seeds that differ by a multiple of golden from shifting one stream
// onto the other.
func seedKey(seed uint64) uint64 { return mix64(seed ^ 0x6e65786d61726b00) } // "nexmark\0"

func newEventRand(key uint64, n int64) eventRand {
	return eventRand{s: mix64(key + uint64(n)*golden)}
}

func (r *eventRand) next() uint64 {
	r.s += golden
	return mix64(r.s)
}

// intn returns a number in [0, n) for n ≥ 1, by Lemire's multiply-high; the
// bias, at most n/2⁶⁴, is far below what any test could see.
func (r *eventRand) intn(n int) int {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int(hi)
}

// int63n returns a number in [0, n) for n ≥ 1.
func (r *eventRand) int63n(n int64) int64 {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int64(hi)
}

// float64 returns a number in [0, 1) with 53 random bits.
func (r *eventRand) float64() float64 {
	return float64(r.next()>>11) * 0x1p-53
}
