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

func TestFakeTimer(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	tm := f.NewTimer(10 * time.Millisecond)
	f.Advance(5 * time.Millisecond)
	select {
	case <-tm.C():
		t.Fatal("early")
	default:
	}
	f.Advance(5 * time.Millisecond)
	<-tm.C()
	f.Advance(time.Second)
	select {
	case <-tm.C():
		t.Fatal("a timer fires once")
	default:
	}
	tm.Reset(time.Millisecond)
	f.Advance(time.Millisecond)
	<-tm.C()
	tm.Stop()
	require.Equal(t, 0, f.Tickers())
	rt := Real{}.NewTimer(time.Hour)
	rt.Reset(time.Millisecond)
	<-rt.C()
	rt.Stop()
}
