package nettest

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"
)

// ProbeConfig shapes a ProbeUDP run. Zero fields take generous defaults
// that hold under qemu TCG, where baseline p99 reaches 20 ms.
type ProbeConfig struct {
	Count    int            // probes to send; default 100
	Interval time.Duration  // gap between sends; default 5ms, negative = back to back
	Timeout  time.Duration  // a reply later than this after its probe counts as lost; default 1s
	Source   netip.AddrPort // local address to send from; default: the kernel's choice
	Size     int            // payload bytes, at least 16; default 16
}

func (c ProbeConfig) withDefaults() ProbeConfig {
	if c.Count <= 0 {
		c.Count = 100
	}
	switch {
	case c.Interval == 0:
		c.Interval = 5 * time.Millisecond
	case c.Interval < 0:
		c.Interval = 0
	}
	if c.Timeout <= 0 {
		c.Timeout = time.Second
	}
	c.Size = max(c.Size, 16)
	return c
}

type probeState uint8

const (
	unanswered probeState = iota
	answered
	late
)

// ProbeUDP sends cfg.Count sequence-numbered datagrams from the namespace to
// dst, a UDP echo server (EchoUDP), and measures which come back and how
// fast. Replies may arrive out of order; replies from an earlier run, to
// another socket, or later than cfg.Timeout do not count. ProbeUDP returns
// when every probe is answered or has timed out. The error reports a
// socket that could not be created, or ctx ending early (the stats then
// cover what was sent until then).
func (n *NS) ProbeUDP(ctx context.Context, dst netip.AddrPort, cfg ProbeConfig) (ProbeStats, error) {
	cfg = cfg.withDefaults()
	conn, err := n.DialUDP(cfg.Source, dst)
	if err != nil {
		return ProbeStats{}, err
	}
	defer conn.Close()

	var token [8]byte
	if _, err := rand.Read(token[:]); err != nil {
		return ProbeStats{}, err
	}
	var (
		mu      sync.Mutex
		sentAt  = make([]time.Time, cfg.Count) // zero until sent
		rtt     = make([]time.Duration, cfg.Count)
		state   = make([]probeState, cfg.Count)
		st      ProbeStats
		pending = cfg.Count // probes not yet answered in time (or not sent)
	)
	allDone := make(chan struct{}) // closed once pending reaches 0
	settle := func(k int) {        // with mu held
		if pending > 0 {
			if pending -= k; pending == 0 {
				close(allDone)
			}
		}
	}
	recvDone := make(chan struct{})
	go func() { // receiver
		defer close(recvDone)
		buf := make([]byte, 64<<10)
		for {
			m, err := conn.Read(buf)
			now := time.Now()
			if err != nil {
				if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) {
					continue // ICMP error for some probe: it stays lost
				}
				return // deadline or closed
			}
			if m < 16 || [8]byte(buf[:8]) != token {
				continue
			}
			seq := binary.BigEndian.Uint64(buf[8:16])
			if seq >= uint64(cfg.Count) {
				continue
			}
			mu.Lock()
			switch d := now.Sub(sentAt[seq]); {
			case sentAt[seq].IsZero():
				// not sent by us: forged or corrupted, ignore
			case state[seq] != unanswered:
				st.Duplicates++
			case d > cfg.Timeout:
				state[seq] = late
				st.Late++
			default:
				state[seq] = answered
				rtt[seq] = d
				settle(1)
			}
			mu.Unlock()
		}
	}()

	payload := make([]byte, cfg.Size)
	copy(payload, token[:])
	start := time.Now()
	var ctxErr error
	timer := time.NewTimer(0)
	defer timer.Stop()
send:
	for i := range cfg.Count {
		if i > 0 && cfg.Interval > 0 {
			timer.Reset(time.Until(start.Add(time.Duration(i) * cfg.Interval)))
			select {
			case <-ctx.Done():
				ctxErr = ctx.Err()
				break send
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			ctxErr = ctx.Err()
			break send
		}
		binary.BigEndian.PutUint64(payload[8:16], uint64(i))
		mu.Lock()
		sentAt[i] = time.Now()
		mu.Unlock()
		st.Sent++
		if _, err := conn.Write(payload); err != nil {
			st.SendErrors++
			if st.SendErr == nil {
				st.SendErr = err
			}
		}
	}
	// Wait for the outstanding replies: until all are in, the last probe's
	// timeout passes, or ctx ends.
	mu.Lock()
	var last time.Time
	if st.Sent > 0 {
		last = sentAt[st.Sent-1]
	}
	if unsent := cfg.Count - st.Sent; unsent > 0 {
		settle(unsent) // never sent: nothing to wait for
	}
	mu.Unlock()
	if st.Sent > 0 && ctxErr == nil {
		wait := time.NewTimer(time.Until(last.Add(cfg.Timeout)))
		select {
		case <-allDone:
		case <-wait.C:
		case <-ctx.Done():
			ctxErr = ctx.Err()
		}
		wait.Stop()
	}
	conn.SetReadDeadline(time.Now()) // stop the receiver
	<-recvDone

	for i := range st.Sent {
		if state[i] == answered {
			st.RTTs = append(st.RTTs, rtt[i])
		}
	}
	st.summarize()
	if ctxErr != nil {
		return st, fmt.Errorf("%s: probe udp %s: %w", n.name, dst, ctxErr)
	}
	return st, nil
}

// Outcome classifies the result of a connection attempt.
type Outcome string

// Outcomes of ConnectTCP, see Classify.
const (
	Connected   Outcome = "connected"   // handshake completed
	Refused     Outcome = "refused"     // RST or ICMP port unreachable: nothing listens
	TimedOut    Outcome = "timeout"     // no answer in time: dropped somewhere
	Unreachable Outcome = "unreachable" // ICMP host/net unreachable, or no neighbour
	Blocked     Outcome = "blocked"     // the local firewall refused the send (EPERM)
	Failed      Outcome = "error"       // anything else
)

// Classify maps a dial error to an Outcome; nil is Connected.
func Classify(err error) Outcome {
	var ne net.Error
	switch {
	case err == nil:
		return Connected
	case errors.Is(err, syscall.ECONNREFUSED):
		return Refused
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return Unreachable
	case errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EACCES):
		return Blocked
	case errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return TimedOut
	}
	return Failed
}

// ConnectTCP opens a TCP connection from the namespace to dst, closes it
// and returns how long the attempt took. timeout <= 0 means 3 s. Classify
// the error to tell refused (nothing listens) from timed out (dropped).
func (n *NS) ConnectTCP(ctx context.Context, dst netip.AddrPort, timeout time.Duration) (time.Duration, error) {
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	c, err := n.DialTCP(ctx, netip.AddrPort{}, dst)
	elapsed := time.Since(start)
	if err != nil {
		return elapsed, err
	}
	return elapsed, c.Close()
}
