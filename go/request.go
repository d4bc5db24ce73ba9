package fstatcache

// Requests to the writer's control socket (include/fstatcache/protocol.h,
// docs/FORMAT.md "Control socket"): one Unix SOCK_DGRAM datagram per
// request, a 24-byte header then the path bytes.  A watch request after a
// miss is fire and forget, on the handle's own socket connected once per
// writer; other requests go on a socket of their own per call, bound to
// an abstract autobind address so the writer can reply, and the reply is
// matched by op and a random cookie.

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"syscall"
	"time"
)

func requestBytes(op Op, cookie uint64, path string) []byte {
	b := make([]byte, requestFixed+len(path))
	hostOrder.PutUint32(b[0:], msgMagic)
	hostOrder.PutUint16(b[4:], protoVersion)
	hostOrder.PutUint16(b[6:], uint16(op))
	hostOrder.PutUint64(b[8:], cookie)
	hostOrder.PutUint32(b[16:], uint32(len(path)))
	hostOrder.PutUint32(b[20:], 0)
	copy(b[requestFixed:], path)
	return b
}

// RequestWatch asks the writer to watch and cache path (fire and forget:
// returns once the request is queued, so a later Sync covers it).  When
// the writer's queue is full it waits for room, at most a second, then
// gives the request up and counts it (RequestsDropped).  Errors: EINVAL
// (not a canonical key or too long), ENOTCONN (no writer), EAGAIN (given
// up), or those of sendto(2).
func (h *Handle) RequestWatch(path string) error {
	if !pathOK(path) || len(path) >= pathMaxMax {
		return &Error{Op: "watch request", Name: path, Err: syscall.EINVAL}
	}
	m := h.current()
	if m == nil {
		return &Error{Op: "watch request", Name: path, Err: syscall.ENOTCONN}
	}
	buf := requestBytes(OpMiss, 0, path)
	var to syscall.Sockaddr = &syscall.SockaddrUnix{Name: m.socket}
	// Connected once per writer: the kernel then skips resolving the
	// socket's path on every send.  Goroutines racing here connect twice.
	if h.sockMap.Load() != m && syscall.Connect(h.sock, to) == nil {
		h.sockMap.Store(m)
	}
	if h.sockMap.Load() == m {
		to = nil
	}
	// sendmsg(2): a nil address sends on the connected socket.
	_, err := syscall.SendmsgN(h.sock, buf, nil, to, syscall.MSG_DONTWAIT|syscall.MSG_NOSIGNAL)
	if err == syscall.EAGAIN { // the queue is full: wait, up to SO_SNDTIMEO
		// Go's runtime interrupts blocking calls with signals (goroutine
		// preemption): an EINTR is retried until the wait's end.
		deadline := time.Now().Add(requestWaitMs * time.Millisecond)
		for {
			_, err = syscall.SendmsgN(h.sock, buf, nil, to, syscall.MSG_NOSIGNAL)
			if err != syscall.EINTR || time.Now().After(deadline) {
				break
			}
		}
	}
	if err == nil {
		return nil
	}
	if err == syscall.EINTR {
		err = syscall.EAGAIN
	}
	h.dropped.Add(1)
	return &Error{Op: "watch request", Name: path, Err: err}
}

// RequestsDropped is the number of watch requests this handle gave up on.
func (h *Handle) RequestsDropped() uint64 { return h.dropped.Load() }

// ControlError is a request the writer answered with an error: its errno
// and message.
type ControlError struct {
	Op      Op
	Errno   syscall.Errno
	Message string
}

func (e *ControlError) Error() string {
	if e.Message != "" {
		return "fstatcache: writer: " + e.Message
	}
	return "fstatcache: writer: " + e.Errno.Error()
}

func (e *ControlError) Unwrap() error { return e.Errno }

// currentWait is the mapping for a control request: unlike a lookup it
// does not settle for the rate limit or another goroutine's attach, but
// retries (2 ms steps) until the deadline while a writer is starting.
func (h *Handle) currentWait(deadline time.Time) *mapping {
	for {
		if m := h.current(); m != nil {
			return m
		}
		err := h.reattach(h.cur.Load(), true)
		if m := h.cur.Load(); m != nil && m.serving() {
			return m
		}
		if err != syscall.EAGAIN || time.Now().After(deadline) {
			return nil
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Control sends request op (OpWatch, OpUnwatch, OpInvalidate, OpSync)
// with path (may be "") and waits for the writer's reply, at most
// timeout (<= 0: a minute).  Returns the writer's message; a refusal is a
// *ControlError.  ENOTCONN: no writer; ETIMEDOUT: no reply in time;
// ECONNRESET: the writer died before answering.
func (h *Handle) Control(op Op, path string, timeout time.Duration) (string, error) {
	if op <= OpMiss || op >= opLimit || len(path) >= pathMaxMax {
		return "", &Error{Op: "control", Name: h.name, Err: syscall.EINVAL}
	}
	if timeout <= 0 {
		timeout = time.Minute
	}
	deadline := time.Now().Add(timeout)
	m := h.currentWait(deadline)
	if m == nil {
		return "", &Error{Op: "control", Name: h.name, Err: syscall.ENOTCONN}
	}
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return "", &Error{Op: "control", Name: h.name, Err: err}
	}
	defer syscall.Close(fd)
	var c [8]byte
	_, _ = rand.Read(c[:])
	cookie := binary.LittleEndian.Uint64(c[:]) ^ uint64(time.Now().UnixNano())
	// Autobind (an address of the family alone): the writer replies to us.
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{}); err != nil {
		return "", &Error{Op: "control", Name: h.name, Err: err}
	}
	tv := syscall.NsecToTimeval(controlPollInterval * 1e6)
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		return "", &Error{Op: "control", Name: h.name, Err: err}
	}
	for {
		err := syscall.Sendto(fd, requestBytes(op, cookie, path), syscall.MSG_NOSIGNAL,
			&syscall.SockaddrUnix{Name: m.socket})
		if err == nil {
			break
		}
		if err != syscall.EINTR || time.Now().After(deadline) {
			return "", &Error{Op: "control", Name: h.name, Err: err}
		}
	}
	buf := make([]byte, replyFixed+replyMsgMax)
	for {
		if time.Now().After(deadline) {
			return "", &Error{Op: "control", Name: h.name, Err: syscall.ETIMEDOUT}
		}
		n, _, err := syscall.Recvfrom(fd, buf, 0)
		if err == syscall.EAGAIN || err == syscall.EINTR {
			// Woken every 100 ms to notice a writer that died.
			if cm := h.cur.Load(); cm == nil || !cm.serving() {
				return "", &Error{Op: "control", Name: h.name, Err: syscall.ECONNRESET}
			}
			continue
		}
		if err != nil {
			return "", &Error{Op: "control", Name: h.name, Err: err}
		}
		if n < replyFixed || hostOrder.Uint32(buf[0:]) != msgMagic ||
			hostOrder.Uint16(buf[4:]) != protoVersion || Op(hostOrder.Uint16(buf[6:])) != op ||
			hostOrder.Uint64(buf[8:]) != cookie {
			continue
		}
		status := int32(hostOrder.Uint32(buf[16:]))
		msgLen := hostOrder.Uint32(buf[20:])
		if uint64(msgLen) > uint64(n-replyFixed) {
			continue
		}
		msg := string(buf[replyFixed : replyFixed+int(msgLen)])
		switch {
		case status == 0:
			return msg, nil
		case status > 0:
			return msg, &Error{Op: "control", Name: h.name, Err: syscall.EPROTO}
		}
		return msg, &ControlError{Op: op, Errno: syscall.Errno(-status), Message: msg}
	}
}

// Sync is the barrier: once it returns nil, every change whose system
// call returned before Sync was called, and every watch request sent
// before it, is visible to lookups.
func (h *Handle) Sync(timeout time.Duration) error {
	_, err := h.Control(OpSync, "", timeout)
	return err
}

// Watch asks the writer to watch and cache path, and waits until it is.
func (h *Handle) Watch(path string, timeout time.Duration) error {
	_, err := h.Control(OpWatch, path, timeout)
	return err
}

// Unwatch asks the writer to stop watching path and drop its entry.
func (h *Handle) Unwatch(path string, timeout time.Duration) error {
	_, err := h.Control(OpUnwatch, path, timeout)
	return err
}

// Invalidate asks the writer to unwatch everything and clear the table.
func (h *Handle) Invalidate(timeout time.Duration) error {
	_, err := h.Control(OpInvalidate, "", timeout)
	return err
}

// IsErrno reports whether err carries errno e.
func IsErrno(err error, e syscall.Errno) bool { return errors.Is(err, e) }
