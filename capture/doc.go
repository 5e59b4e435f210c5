// Package capture decodes captured RAET road traffic for debugging: a gopacket
// layer for RAET packets, readers for pcap and pcapng files, a reader of the
// session key log road stacks write (RAET_KEYLOGFILE), a keyring that finds
// the verify key of a packet's sender in keep directories, and an Analyzer
// that ties them together: it verifies feet, opens coats, reassembles
// segmented messages and describes each packet as text or JSON. Fast-mode
// packets (road/fast, between raet-go stacks) open with the same key log:
// their frames are listed and each direction's stream is rebuilt into its
// messages, however its data was resent or reordered. A Writer
// goes the other way: it writes datagrams a program recorded as a pcap or
// pcapng file, so its own traffic can be read with raet dump or Wireshark
// (contrib/wireshark/raet.lua).
//
// Nothing here sends or changes anything: keeps and key logs are only read.
// Bad input (a corrupt capture, a non-RAET datagram on the RAET port, a
// garbled key log line) gives an error or is skipped, never a panic.
package capture
