package keyspace

import (
	"errors"
	"fmt"
	"reflect"
)

// StateOption configures a state when it is created: keyed state
// (NewValueState and friends), operator list state and broadcast state. Pass
// any number; a later option of the same sort replaces an earlier one. The
// options are WithValueCodec, WithUserKeyCodec and WithTTL.
type StateOption interface {
	applyState(*stateOptions)
}

// stateOptions is what the options of one state creation add up to.
type stateOptions struct {
	valueCodec   any // a Codec[X]; checked against the state's stored type
	valueType    reflect.Type
	userKeyCodec any // a Codec[UK]
	userKeyType  reflect.Type
	ttl          *TTLConfig
	err          error // an option that was invalid in itself
}

type stateOptionFunc func(*stateOptions)

func (f stateOptionFunc) applyState(o *stateOptions) { f(o) }

// WithValueCodec makes a state encode its values with c instead of the codec
// CodecFor[V] derives, or at all when V has none. Which values: a value or
// reducing state's V, a list state's elements, a map state's values, an
// aggregating state's accumulators, an operator list state's elements and a
// broadcast state's values. V must be exactly that type, or creating the
// state fails. c must keep the Codec contract; its encoding becomes part of
// the state's snapshot format.
func WithValueCodec[V any](c Codec[V]) StateOption {
	return stateOptionFunc(func(o *stateOptions) {
		if c == nil {
			o.err = errors.New("WithValueCodec was given a nil codec")
			return
		}
		o.valueCodec, o.valueType = c, reflect.TypeFor[V]()
	})
}

// WithUserKeyCodec makes a map state encode its user keys, or a broadcast
// state its keys, with c instead of the canonical key encoding (see
// KeyEncoder). Pebble finds a map entry by the bytes of its encoded user key,
// so c must be deterministic and injective: equal keys must encode to equal
// bytes and different keys to different bytes. UK must be exactly the
// state's key type.
func WithUserKeyCodec[UK any](c Codec[UK]) StateOption {
	return stateOptionFunc(func(o *stateOptions) {
		if c == nil {
			o.err = errors.New("WithUserKeyCodec was given a nil codec")
			return
		}
		o.userKeyCodec, o.userKeyType = c, reflect.TypeFor[UK]()
	})
}

// WithTTL gives a keyed state a time-to-live (see TTLConfig). It is only
// valid for keyed state; operator and broadcast state reject it.
func WithTTL(cfg TTLConfig) StateOption {
	return stateOptionFunc(func(o *stateOptions) {
		if err := cfg.validate(); err != nil {
			o.err = err
			return
		}
		o.ttl = &cfg
	})
}

// collectOptions applies opts in order. A nil option is an error rather than
// a panic: options are often built conditionally.
func collectOptions(opts []StateOption) stateOptions {
	var o stateOptions
	for _, opt := range opts {
		if opt == nil {
			o.err = errors.New("a nil StateOption was passed")
			continue
		}
		opt.applyState(&o)
	}
	return o
}

// valueCodecOf returns the codec for a state's values of type V: the one
// given with WithValueCodec, or CodecFor[V].
func valueCodecOf[V any](o *stateOptions) (Codec[V], error) {
	if o.valueCodec != nil {
		c, ok := o.valueCodec.(Codec[V])
		if !ok {
			v := reflect.TypeFor[V]()
			return nil, fmt.Errorf("WithValueCodec gives a codec of %s, but the state's values are of type %s; pass a keyspace.Codec[%s]",
				o.valueType, v, v)
		}
		return c, nil
	}
	return CodecFor[V]()
}

// userKeyCodecOf returns the codec for a state's user keys of type UK: the one
// given with WithUserKeyCodec, or the canonical key encoding.
func userKeyCodecOf[UK comparable](o *stateOptions) (Codec[UK], error) {
	if o.userKeyCodec != nil {
		c, ok := o.userKeyCodec.(Codec[UK])
		if !ok {
			k := reflect.TypeFor[UK]()
			return nil, fmt.Errorf("WithUserKeyCodec gives a codec of %s, but the state's keys are of type %s; pass a keyspace.Codec[%s]",
				o.userKeyType, k, k)
		}
		return c, nil
	}
	c, err := newKeyCodec[UK]()
	if err != nil {
		return nil, fmt.Errorf("%w (or supply a deterministic codec with keyspace.WithUserKeyCodec)", err)
	}
	return c, nil
}
