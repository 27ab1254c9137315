package nexmark

import (
	"testing"
	"unsafe"
)

// TestEventSize keeps Event's documented size honest: every record of a
// Nexmark job is copied at this size through each batch.
func TestEventSize(t *testing.T) {
	if got := unsafe.Sizeof(Event{}); got != 104 {
		t.Errorf("Event is %d bytes; its documentation says 104", got)
	}
}
