package adbemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"
)

const (
	// maxStreams bounds the services one connection may have open at once, and with
	// it the memory a client can make the emulator hold.
	maxStreams = 64
	// queuedWrites bounds the WRTE payloads a stream holds unconsumed. adb waits for
	// OKAY before sending the next one; one more is tolerated, not a third. With
	// maxStreams this caps a connection's buffered input at 32 MiB.
	queuedWrites = 2
	// writeTimeout gives up on a host that stops reading.
	writeTimeout = 2 * time.Minute
	// minPeerPayload is adb's MAX_PAYLOAD_V1; a host announcing less is broken.
	minPeerPayload = 4096
)

// conn is one TCP connection from an adb server.
type conn struct {
	d      *Device
	nc     net.Conn
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc

	wmu sync.Mutex // serializes whole messages on nc

	mu        sync.Mutex
	streams   map[uint32]*stream
	nextID    uint32
	peerMax   int // the host's max payload, once connected
	connected bool
}

func newConn(d *Device, nc net.Conn) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	return &conn{
		d:       d,
		nc:      nc,
		log:     d.log.With("remote", nc.RemoteAddr().String()),
		ctx:     ctx,
		cancel:  cancel,
		streams: make(map[uint32]*stream),
		nextID:  1,
	}
}

// arm puts the fault switches on the connection.
func (c *conn) arm(f Faults) {
	fc := &faultConn{Conn: c.nc, drop: c.d.dropped}
	if f.AfterBytes > 0 {
		fc.limited = true
		fc.left.Store(f.AfterBytes)
	}
	if f.After > 0 {
		timer := time.AfterFunc(f.After, func() { fc.fire(fmt.Sprintf("%s elapsed", f.After)) })
		context.AfterFunc(c.ctx, func() { timer.Stop() })
	}
	c.nc = fc
}

// serve reads messages until the connection ends, then tears down every stream.
func (c *conn) serve() {
	c.log.Info("connection accepted")
	err := c.readLoop()
	c.cancel()
	c.nc.Close()
	c.mu.Lock()
	streams := c.streams
	c.streams = map[uint32]*stream{}
	c.mu.Unlock()
	for _, s := range streams {
		s.shut(true)
	}
	switch {
	case errors.Is(err, errMalformed):
		c.log.Warn("closing connection: protocol error", "err", err)
	case err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed):
		c.log.Info("connection closed")
	default:
		c.log.Info("connection closed", "err", err)
	}
}

func (c *conn) readLoop() error {
	for {
		m, err := readMessage(c.nc, maxPayload)
		if err != nil {
			return err
		}
		if err := c.handle(m); err != nil {
			return err
		}
	}
}

func (c *conn) handle(m message) error {
	if m.command == cmdCNXN {
		return c.handshake(m)
	}
	c.mu.Lock()
	connected := c.connected
	c.mu.Unlock()
	if !connected {
		return fmt.Errorf("%w: %v before CNXN", errMalformed, m)
	}
	switch m.command {
	case cmdOPEN:
		return c.open(m)
	case cmdOKAY:
		if s := c.stream(m.arg1); s != nil && s.remote == m.arg0 {
			select {
			case s.ack <- struct{}{}:
			default: // a duplicate OKAY; the stream has nothing outstanding
			}
		}
	case cmdWRTE:
		s := c.stream(m.arg1)
		if s == nil || s.remote != m.arg0 {
			// A write racing our CLSE: the host will see the CLSE.
			return nil
		}
		select {
		case s.in <- m.data:
		default:
			return fmt.Errorf("%w: stream %d: host sent WRTE without waiting for OKAY (%d unacknowledged)", errMalformed, m.arg1, queuedWrites)
		}
	case cmdCLSE:
		if s := c.stream(m.arg1); s != nil && (s.remote == m.arg0 || m.arg0 == 0) {
			c.remove(s)
			s.shut(true)
		}
	case cmdAUTH, cmdSTLS:
		return fmt.Errorf("%w: %v: the emulator never asks for authentication or TLS", errMalformed, m)
	}
	return nil
}

// handshake answers the host's CNXN with ours; the emulator skips AUTH, as a
// phone with adb authentication turned off does.
func (c *conn) handshake(m message) error {
	if m.arg0 < minProtocolVersion {
		return fmt.Errorf("%w: CNXN protocol version 0x%08x is older than 0x%08x", errMalformed, m.arg0, minProtocolVersion)
	}
	if m.arg1 < minPeerPayload {
		return fmt.Errorf("%w: CNXN max payload %d is below %d", errMalformed, m.arg1, minPeerPayload)
	}
	version := min(m.arg0, protocolVersion)
	c.mu.Lock()
	c.peerMax = int(min(m.arg1, maxPayload))
	c.connected = true
	c.mu.Unlock()
	c.log.Info("host connected", "banner", string(bytes.TrimRight(m.data, "\x00")), "version", fmt.Sprintf("0x%08x", version))
	return c.send(message{command: cmdCNXN, arg0: version, arg1: maxPayload, data: []byte(c.d.banner)})
}

func (c *conn) open(m message) error {
	if m.arg0 == 0 {
		return fmt.Errorf("%w: OPEN with local id 0", errMalformed)
	}
	name := string(bytes.TrimRight(m.data, "\x00"))
	serve := c.d.service(name)
	if serve == nil {
		c.log.Info("refusing unknown service", "service", name)
		return c.send(message{command: cmdCLSE, arg0: 0, arg1: m.arg0})
	}
	c.mu.Lock()
	if len(c.streams) >= maxStreams {
		c.mu.Unlock()
		c.log.Warn("refusing service: too many open streams", "service", name, "limit", maxStreams)
		return c.send(message{command: cmdCLSE, arg0: 0, arg1: m.arg0})
	}
	s := &stream{
		c:      c,
		local:  c.nextID,
		remote: m.arg0,
		max:    c.peerMax,
		in:     make(chan []byte, queuedWrites),
		ack:    make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	c.nextID++
	c.streams[s.local] = s
	c.mu.Unlock()
	c.log.Debug("open", "service", name, "stream", s.local)
	if err := c.send(message{command: cmdOKAY, arg0: s.local, arg1: s.remote}); err != nil {
		return err
	}
	// The device's WaitGroup covers services too, so that Serve returns only once
	// every command it started has been killed and reaped.
	c.d.wg.Add(1)
	go func() {
		defer c.d.wg.Done()
		serve(c.ctx, s)
		c.remove(s)
		s.shut(false)
	}()
	return nil
}

func (c *conn) stream(local uint32) *stream {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.streams[local]
}

func (c *conn) remove(s *stream) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.streams[s.local] == s {
		delete(c.streams, s.local)
	}
}

// send writes one whole message.
func (c *conn) send(m message) error {
	buf := appendMessage(make([]byte, 0, headerSize+len(m.data)), m)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := c.nc.Write(buf); err != nil {
		c.nc.Close()
		return fmt.Errorf("send %v: %w", m, err)
	}
	return nil
}

// service returns the handler of a service name, or nil if the emulator does not
// offer it.
func (d *Device) service(name string) func(context.Context, *stream) {
	kind, command, ok := strings.Cut(name, ":")
	if !ok {
		return nil
	}
	args := strings.Split(kind, ",")
	switch args[0] {
	case "sync":
		if len(args) != 1 || command != "" {
			return nil
		}
		return func(ctx context.Context, s *stream) {
			if err := serveSync(d.root, s); err != nil {
				s.c.log.Info("sync session ended", "err", err)
			}
		}
	case "shell", "exec":
		if d.shellDisabled {
			return nil
		}
		v2 := false
		for _, a := range args[1:] {
			switch {
			case a == "v2":
				v2 = args[0] == "shell"
			case a == "raw", a == "pty", strings.HasPrefix(a, "TERM="):
				// No terminal is emulated: pty sessions run raw.
			default:
				return nil
			}
		}
		return func(ctx context.Context, s *stream) {
			d.runShell(ctx, s, command, v2)
		}
	}
	return nil
}

// stream is one open service: a bidirectional byte stream with adb's flow control,
// one WRTE in flight per direction.
type stream struct {
	c             *conn
	local, remote uint32
	max           int // payload bytes per WRTE

	in      chan []byte   // WRTE payloads from the host
	pending []byte        // the rest of the payload being read; owned by Read
	ack     chan struct{} // the host's OKAY for our WRTE
	done    chan struct{} // closed when either side closed the stream

	wmu      sync.Mutex // one WRTE in flight
	shutOnce sync.Once
}

// Read returns the host's bytes and acknowledges each payload once it is consumed,
// which is what keeps a fast host from flooding the emulator.
func (s *stream) Read(p []byte) (int, error) {
	for len(s.pending) == 0 {
		select {
		case b := <-s.in:
			s.pending = b
		default:
			select {
			case b := <-s.in:
				s.pending = b
			case <-s.done:
				select {
				case b := <-s.in:
					s.pending = b
				default:
					return 0, io.EOF
				}
			}
		}
		if len(s.pending) == 0 {
			s.okay()
		}
	}
	n := copy(p, s.pending)
	s.pending = s.pending[n:]
	if len(s.pending) == 0 {
		s.okay()
	}
	return n, nil
}

func (s *stream) okay() {
	select {
	case <-s.done:
	default:
		s.c.send(message{command: cmdOKAY, arg0: s.local, arg1: s.remote})
	}
}

// Write sends p in WRTEs of at most the host's max payload, each after the
// previous one was acknowledged.
func (s *stream) Write(p []byte) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	written := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), s.max)]
		select {
		case <-s.ack: // stale
		default:
		}
		select {
		case <-s.done:
			return written, net.ErrClosed
		default:
		}
		if err := s.c.send(message{command: cmdWRTE, arg0: s.local, arg1: s.remote, data: chunk}); err != nil {
			return written, err
		}
		select {
		case <-s.ack:
		case <-s.done:
			return written, net.ErrClosed
		}
		written += len(chunk)
		p = p[len(chunk):]
	}
	return written, nil
}

// shut ends the stream; byHost says the host already closed it (or the connection
// is gone), so no CLSE is owed.
func (s *stream) shut(byHost bool) {
	s.shutOnce.Do(func() {
		close(s.done)
		if !byHost {
			s.c.send(message{command: cmdCLSE, arg0: s.local, arg1: s.remote})
		}
	})
}
