package road

import (
	"testing"
	"time"

	"github.com/raet-go/raet/internal/faultnet"
	"github.com/stretchr/testify/require"
)

func TestSimJoinAllowMessage(t *testing.T) {
	m := newSim(t, faultnet.Faults{})
	alpha, beta := m.bootstrap("once")
	r := m.joinPair(beta, alpha)
	m.allowPair(beta, r)
	require.Equal(t, state{"true", "true", "true"}, remoteState(t, beta, r))
	require.NoError(t, beta.Send(ctxT(t, 5*time.Second), "alpha", map[string]any{"x": 1}))
	m.serve(5 * time.Second)
	got := drainMessages(alpha)
	require.Len(t, got, 1)
}
