//go:build !linux

package road

// batchIO is empty where the OS has no batched socket calls.
type batchIO struct{}

// ReadBatch reads one datagram: this OS has no recvmmsg.
func (u *UDPConn) ReadBatch(ds []Datagram) (int, error) {
	if len(ds) == 0 {
		return 0, nil
	}
	n, from, err := u.ReadFrom(ds[0].B)
	if err != nil {
		return 0, err
	}
	ds[0].N, ds[0].Addr = n, from
	return 1, nil
}

// WriteBatch sends ds one datagram at a time: this OS has no sendmmsg.
func (u *UDPConn) WriteBatch(ds []Datagram) (int, error) {
	for i := range ds {
		if _, err := u.WriteTo(ds[i].B, ds[i].Addr); err != nil {
			return i, err
		}
	}
	return len(ds), nil
}
