package clock

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFakeTicker(t *testing.T) {
	f := NewFake(time.Unix(100, 0))
	tk := f.NewTicker(10 * time.Millisecond)
	select {
	case <-tk.C():
		t.Fatal("tick before time")
	default:
	}
	f.Advance(9 * time.Millisecond)
	select {
	case <-tk.C():
		t.Fatal("tick before time")
	default:
	}
	f.Advance(time.Millisecond)
	require.Equal(t, time.Unix(100, 0).Add(10*time.Millisecond), <-tk.C())
	f.Advance(35 * time.Millisecond) // channel holds one tick, the rest drop
	require.Equal(t, time.Unix(100, 0).Add(20*time.Millisecond), <-tk.C())
	require.Equal(t, time.Unix(100, 0).Add(45*time.Millisecond), f.Now())
	tk.Stop()
	require.Equal(t, 0, f.Tickers())
	var r Real
	require.WithinDuration(t, time.Now(), r.Now(), time.Second)
	rt := r.NewTicker(time.Millisecond)
	<-rt.C()
	rt.Stop()
}
