package edge

import (
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// refusedConnBody answers a connection over ProtectOptions.MaxConnsPerIP.
const refusedConnBody = "The number of connections from your address exceeds MaxConnsPerIP\r\n"

// refuseTimeout bounds writing the refusal and draining the request.
const refuseTimeout = time.Second

// capConns wraps ln so that one client address holds at most max open
// connections; more are answered 429 and closed. max <= 0 = no cap.
//
// It replaces fasthttp's Server.MaxConnsPerIP, whose connection wrapper
// is not safe to close twice: Shutdown closing an idle connection while
// its worker closes it too dereferences nil (or releases another
// connection's slot) in fasthttp v1.51.
func capConns(ln net.Listener, max int) net.Listener {
	if max <= 0 {
		return ln
	}
	return &connCapListener{Listener: ln, max: max, n: map[netip.Addr]int{}}
}

type connCapListener struct {
	net.Listener
	max int
	mu  sync.Mutex // guards n
	n   map[netip.Addr]int
}

func (l *connCapListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ta, ok := c.RemoteAddr().(*net.TCPAddr)
		if !ok {
			return c, nil
		}
		a := ta.AddrPort().Addr().Unmap()
		l.mu.Lock()
		if l.n[a] >= l.max {
			l.mu.Unlock()
			go refuseConn(c)
			continue
		}
		l.n[a]++
		l.mu.Unlock()
		return &cappedConn{Conn: c, l: l, addr: a}, nil
	}
}

func (l *connCapListener) release(a netip.Addr) {
	l.mu.Lock()
	if l.n[a] <= 1 {
		delete(l.n, a)
	} else {
		l.n[a]--
	}
	l.mu.Unlock()
}

// refuseConn writes the 429, then reads what the client sent (so closing
// does not reset the connection before the client reads the answer).
func refuseConn(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(refuseTimeout))
	resp := "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain; charset=utf-8\r\nRetry-After: 1\r\n" +
		"Connection: close\r\nContent-Length: " + strconv.Itoa(len(refusedConnBody)) + "\r\n\r\n" + refusedConnBody
	if _, err := io.WriteString(c, resp); err != nil {
		return
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(c, 64<<10))
}

// cappedConn gives its slot back on the first Close; later ones only
// close the connection again.
type cappedConn struct {
	net.Conn
	l    *connCapListener
	addr netip.Addr
	once sync.Once
}

func (c *cappedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.addr) })
	return err
}
