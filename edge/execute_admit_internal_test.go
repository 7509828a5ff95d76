package edge

import "testing"

// TestAdmissionBurstAndOverload drives the two-level cap with a fake clock:
// a burst above soft is admitted up to max, a queue standing above soft
// longer than standingQueue is shed down to soft for overloadHold, and
// then bursts are admitted again.
func TestAdmissionBurstAndOverload(t *testing.T) {
	a := &admission{max: 8} // soft = 2
	var clock int64 = 1e9
	now := func() int64 { return clock }
	enter := func(n int) (admitted int) {
		for range n {
			if a.enter(now) {
				admitted++
			}
		}
		return admitted
	}
	leave := func(n int) {
		for range n {
			a.leave()
		}
	}

	if got := enter(10); got != 8 {
		t.Fatalf("burst: admitted %d of 10, want max 8", got)
	}
	leave(8)
	if a.above.Load() != 0 {
		t.Fatal("back at soft: the burst clock must reset")
	}

	// A queue above soft that stands: admitted while young, shed once old.
	if got := enter(4); got != 4 {
		t.Fatalf("second burst: admitted %d of 4", got)
	}
	clock += int64(standingQueue) + 1
	if a.enter(now) {
		t.Fatal("a queue standing above soft for longer than standingQueue must shed the excess")
	}
	// Overload: even when the count falls between soft and max, only soft is admitted.
	leave(1)
	if a.enter(now) {
		t.Fatal("during overloadHold only soft requests are admitted")
	}
	leave(1) // in flight: 2 = soft
	if a.enter(now) {
		t.Fatal("during overloadHold the count must stay at soft")
	}
	leave(2) // in flight: 0
	if got := enter(2); got != 2 {
		t.Fatalf("up to soft is always admitted, got %d", got)
	}
	leave(2)

	// After the hold, bursts are admitted again.
	clock += int64(overloadHold)
	if got := enter(8); got != 8 {
		t.Fatalf("after the hold: admitted %d of 8", got)
	}
	leave(8)
	if a.inFlight.Load() != 0 {
		t.Fatalf("in flight %d after all left", a.inFlight.Load())
	}
	if a.shed.Load() == 0 {
		t.Fatal("shed counter not kept")
	}
}
