package fakeclock

import (
	"testing"
	"time"
)

func TestAdvanceFiresDueTimersOnly(t *testing.T) {
	c := New()
	a, b := c.After(time.Second), c.After(time.Minute)
	c.Advance(999 * time.Millisecond)
	select {
	case <-a:
		t.Fatal("a timer fired before its time")
	default:
	}
	c.Advance(time.Millisecond)
	if got := <-a; !got.Equal(Start.Add(time.Second)) {
		t.Fatalf("fired with %v", got)
	}
	select {
	case <-b:
		t.Fatal("the later timer fired")
	default:
	}
	if w := c.Waits(); len(w) != 2 || w[0] != time.Second || w[1] != time.Minute {
		t.Fatalf("Waits: %v", w)
	}
	if !c.Now().Equal(Start.Add(time.Second)) {
		t.Fatalf("Now: %v", c.Now())
	}
}
