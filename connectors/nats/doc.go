// Package nats owns floe's NATS connectors: a JetStream source and sink
// that give exactly-once results end to end in runs with checkpoints, core
// NATS source and sink (at most once), the serdes that turn records into
// payloads (JSON, raw bytes, lines of text, Protobuf, Avro), the policy for
// messages that cannot be decoded (fail, or a dead-letter subject), and the
// URLs that let a sample read or write NATS wherever it takes a file path.
//
// JetStreamSource reads a stream's subject filters as splits (one per
// filter, dealt to subtasks by index); a split's checkpointed position is
// the stream sequence of the last message it delivered. Each split is read
// through an ordered consumer: ephemeral, in memory, with no
// acknowledgements (AckNone). An ordered consumer notices a gap or a lost
// consumer (a reconnect, a server restart, a missed heartbeat) and
// recreates itself right after the last message it delivered, so it needs
// no acks to be exact, and the stream's retention never waits on floe;
// floe's checkpoint, not the server, is the truth about where a job is
// (acks as positions are unsafe, nats-server#4786). A restore creates new
// ordered consumers starting after the recorded sequences: no durable
// consumer state is trusted. For the same reason the source cannot drive
// retention of a work-queue or interest stream: read limits-based streams.
//
// JetStreamSink is exactly-once through JetStream's de-duplication rather
// than atomic batch publish: a checkpoint's records wait in the checkpoint
// (the transaction handle holds their payloads) until the checkpoint
// completes, and are then published with deterministic message ids, so
// that a commit replayed after a restore is discarded by the stream. This
// works on every server with JetStream, needs no server-side staging, and
// keeps Commit idempotent for any writer of the sink; an atomic batch
// (server 2.12+) would still need the ids to make a replayed commit a
// no-op. The price is the duplicate window: a replay later than the
// stream's Duplicates setting would duplicate, so writers check the window
// when they open (JetStreamSink says more).
//
// Connections reconnect (about 30 s by default), so a job survives a short
// server restart; a longer outage closes the connection and fails the
// attempt, and recovery from the last checkpoint takes over. Readers and
// writers each own one connection, opened from a Connection that names
// servers (NATS_URL by default), credentials and TLS files.
//
// The package starts goroutines only inside readers (one per JetStream
// split, waiting on its consumer) and inside nats.go; all are stopped by
// Close. It must not keep per-run state in a Source or a Sink.
package nats
