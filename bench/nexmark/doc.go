// Package nexmark owns floe's Nexmark event generator: the Person, Auction and
// Bid model, the Config that shapes the stream, Config.Event (the n-th event
// as a pure function of the config and n), a splittable floe Source, and the
// JSON-lines form of the benchmark files (WriteJSONL, ParseEvent).
//
// The generator follows the one in Flink's nexmark repository (nexmark-flink:
// NexmarkConfiguration, generator/GeneratorConfig, NexmarkGenerator and
// model/PersonGenerator, AuctionGenerator, BidGenerator, PriceGenerator,
// StringsGenerator, and source/NexmarkTableSourceFactory for how the SQL
// source sets it up): the same person : auction : bid mix by event id and the
// same first event id, id formulas, hot ratios, in-flight auctions, active
// people, prices, auction expiry, channels and URLs, padding of `extra` to
// average sizes, and event times spaced by the configured rate. Config.Event
// gives the formulas. It differs from the original in these ways:
//
//   - Randomness. The original draws from one unseeded java.util.Random per
//     generator, in event order. Here each event draws from its own stream
//     seeded by (Config.Seed, event number): the same distributions, other
//     values, and a stream that is reproducible and splittable.
//   - Parallelism. Flink splits the event ids into one contiguous block per
//     source subtask, each on its own timeline that starts at the base time
//     with a delay p times as long, so the stream it produces depends on the
//     parallelism (subtask 7 of 8 bids on auction ids far above those
//     subtask 0 creates at the same event time). Here the stream is always
//     the one Flink's source produces at parallelism 1, whatever the
//     parallelism; Source deals it out round-robin.
//   - Bidder ids keep the original's quirk: BidGenerator adds
//     FIRST_PERSON_ID twice (since 2021), so a bid's bidder is 1000 above
//     the person id the formula picks. Kept so that floe runs on the data
//     Flink's published results ran on.
//   - Extra. The original writes fresh letters for each event; they also
//     include 'H' to '`' (backslash included) whenever java.util.Random's
//     nextInt() is negative, a remainder-sign slip. Here `extra` is a window,
//     at a random offset, of one fixed text of random lowercase letters,
//     which allocates nothing. Lengths follow the original exactly.
//   - URLs. The original builds each channel's URL at random the first time
//     a JVM meets the channel, so they differ between task managers. Here
//     they come from one fixed table, the same for every seed, with the same
//     form and the same 90 % share carrying "&channel_id=".
//   - Base time. The original takes the wall clock at submission; here it is
//     Config.BaseTime, DefaultBaseTime by default.
//   - Not carried over: rate shapes and nextEventRate (Flink's
//     GeneratorConfig ignores them), outOfOrderGroupSize (always 1 there),
//     the extended bid mode, and delayed events (unused by the generator).
//
// The package reads no clock and does no I/O of its own, except the wall
// clock of the Source's optional rate limit and the writer handed to
// WriteJSONL. It must not depend on the engine: queries and the CLI build on
// it, not the other way round.
package nexmark
