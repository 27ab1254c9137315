// Package actors runs job graphs: one protoactor actor per parallel task
// instance (a subtask), supervised by a job master actor that deploys the
// subtasks in phases, starts them, collects their completion and fails or
// cancels the whole job when any of them fails.
//
// With checkpoints (WithCheckpointing) the job master also runs the
// checkpoint coordinator (snapshot.Coordinator): it triggers checkpoints at
// the sources, collects every subtask's acknowledgement, writes the
// metadata and tells the subtasks a checkpoint is complete; subtasks align
// barriers in their InputGate, capture their operators' state between
// batches and write it on a goroutine of their own. A failure stops every
// subtask of the attempt and restarts them all, under the next attempt
// number, from the latest complete checkpoint; messages of other attempts
// are dropped (in one process, actor names carry the attempt, so old
// subtasks cannot even address new ones). Savepoints, the final checkpoint
// of bounded input and built-in fault injection live here too.
//
// A subtask is a thin shell around pure parts: the InputGate decides what
// input to process next and when input has ended; exchange writers batch
// output per channel under credit-based flow control. The subtask never
// blocks inside Receive: without credit it parks its output and stops taking
// input until credit returns, which bounds memory whatever the source speed.
//
// Records, watermarks and end-of-stream travel as user messages on the same
// channel so they stay in order; system messages are used only for actor
// lifecycle.
package actors
