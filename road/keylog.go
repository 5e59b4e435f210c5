package road

import (
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/raet-go/raet/session"
)

// KeyLogEnv names the file a stack appends session keys to when set.
const KeyLogEnv = "RAET_KEYLOGFILE"

// KeyLogLabel starts each key log line:
//
//	RAET_SESSION_KEY <local host:port> <remote host:port> <local short-term private key hex> <remote short-term public key hex>
//
// The two keys open every coat of the session in either direction (raet
// decode --prikey --pubkey takes the same pair).
const KeyLogLabel = "RAET_SESSION_KEY"

// openKeyLog opens the key log named by the environment, if any.
func openKeyLog() (io.Writer, error) {
	path := os.Getenv(KeyLogEnv)
	if path == "" {
		return nil, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("road: key log %s: %w", path, err)
	}
	return f, nil
}

// logKeys appends a session's keys to the key log.
func (s *Stack) logKeys(r *remote, sess *session.Session) {
	if s.keylog == nil {
		return
	}
	priv := sess.Local.Bytes()
	line := fmt.Sprintf("%s %s %s %s %s\n", KeyLogLabel, s.addr, r.addr,
		hex.EncodeToString(priv[:]), hex.EncodeToString(sess.Remote[:]))
	if _, err := io.WriteString(s.keylog, line); err != nil {
		s.log.Warn("key log write failed", "err", err)
	}
}
