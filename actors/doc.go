// Package actors runs job graphs: one protoactor actor per parallel task
// instance (a subtask), supervised by a job master actor that deploys the
// subtasks in phases, starts them, collects their completion and fails or
// cancels the whole job when any of them fails.
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
