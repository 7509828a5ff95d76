package edge_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/edge"
)

// selfSigned writes a certificate for 127.0.0.1 and its key into a temp
// dir and returns their paths and a pool trusting the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "avap-test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestTLSListenerHSTS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	s := newServer(t, edge.Options{Protect: edge.ProtectOptions{
		TLSCertFile: certFile, TLSKeyFile: keyFile, HSTSMaxAge: time.Hour,
	}})
	base := startListening(t, s)
	addr := s.Addr().String()

	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Timeout: 5 * time.Second, Transport: tr}
	resp, err := client.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("https /healthz: %d", resp.StatusCode)
	}
	if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 || resp.TLS.PeerCertificates[0].Subject.CommonName != "avap-test" {
		t.Fatalf("not served with the test certificate: %+v", resp.TLS)
	}
	if got, want := resp.Header.Get("Strict-Transport-Security"), "max-age=3600; includeSubDomains"; got != want {
		t.Fatalf("Strict-Transport-Security = %q, want %q", got, want)
	}

	// A client that does not trust the certificate is refused.
	untrusted := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	if resp, err := untrusted.Get("https://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("untrusted client accepted the self-signed certificate")
	}

	// Plain HTTP on the TLS listener gets no HTTP response.
	plain := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	if !strings.HasPrefix(base, "http://") {
		t.Fatalf("base %q", base)
	}
	if resp, err := plain.Get(base + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatalf("plain HTTP on the TLS listener answered %d", resp.StatusCode)
	}
}

func TestNoHSTSWithoutTLS(t *testing.T) {
	s := newServer(t, edge.Options{})
	base := startListening(t, s)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if v := resp.Header.Get("Strict-Transport-Security"); v != "" {
		t.Fatalf("HSTS on a plain listener: %q", v)
	}
}

// dialFrom opens a TCP connection to addr from the loopback address src.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// getOn sends GET /healthz on c (keep-alive) and returns the status.
func getOn(c net.Conn, br *bufio.Reader) (int, error) {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
		return resp.StatusCode, errors.New("429 without Retry-After")
	}
	return resp.StatusCode, nil
}

func TestMaxConnsPerIP(t *testing.T) {
	s := newServer(t, edge.Options{IdleTimeout: 30 * time.Second, Protect: edge.ProtectOptions{MaxConnsPerIP: 2}})
	startListening(t, s)
	addr := s.Addr().String()

	// Two connections from 127.0.0.1, each proven accepted by a request.
	var held []net.Conn
	for range 2 {
		c := dialFrom(t, "127.0.0.1", addr)
		if st, err := getOn(c, bufio.NewReader(c)); err != nil || st != 200 {
			t.Fatalf("connection within the cap: %d %v", st, err)
		}
		held = append(held, c)
	}

	// A third from the same address is refused with 429.
	c3 := dialFrom(t, "127.0.0.1", addr)
	if st, err := getOn(c3, bufio.NewReader(c3)); err != nil || st != http.StatusTooManyRequests {
		t.Fatalf("connection over the cap: status %d err %v, want 429", st, err)
	}

	// Another address is not affected.
	o := dialFrom(t, "127.0.0.2", addr)
	if st, err := getOn(o, bufio.NewReader(o)); err != nil || st != 200 {
		t.Fatalf("other address: %d %v", st, err)
	}

	// The held connections still work; closing one frees a slot.
	if st, err := getOn(held[1], bufio.NewReader(held[1])); err != nil || st != 200 {
		t.Fatalf("held connection: %d %v", st, err)
	}
	held[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := dialFrom(t, "127.0.0.1", addr)
		st, err := getOn(c, bufio.NewReader(c))
		c.Close()
		if err == nil && st == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot not freed after closing a connection: %d %v", st, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMaxInflightPerIP(t *testing.T) {
	nc := meshConn(t)
	// The executor holds every request until released.
	arrived := make(chan *nats.Msg, 16)
	subj, _ := bus.ExecSubject(bus.LaneInteractive)
	sub, err := nc.QueueSubscribe(subj, bus.ExecutorQueue, func(m *nats.Msg) { arrived <- m })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	reply := func(m *nats.Msg) {
		rep := ok(`{"a":1}`)
		rep.ExecutorID = "fake"
		_ = m.Respond(rep.AppendMsgpack(nil))
	}

	s := newServer(t, edge.Options{Conn: nc, Protect: edge.ProtectOptions{
		TrustedProxies:   []string{"127.0.0.1/32"},
		MaxInflightPerIP: 2,
	}})
	base := startListening(t, s)
	client := &http.Client{Timeout: 10 * time.Second}
	post := func(ip string) (int, http.Header, error) {
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/execute", strings.NewReader(`{"script":"addResult(a)","variables":{"a":1}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", ip)
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header, nil
	}

	// Two slow requests from one client fill its cap.
	type result struct {
		status int
		err    error
	}
	slow := make(chan result, 2)
	var held []*nats.Msg
	for range 2 {
		go func() {
			st, _, err := post("198.51.100.1")
			slow <- result{st, err}
		}()
		select {
		case m := <-arrived:
			held = append(held, m)
		case <-time.After(5 * time.Second):
			t.Fatal("slow request never reached the executor")
		}
	}

	// A third from the same client is refused at once.
	st, hdr, err := post("198.51.100.1")
	if err != nil || st != http.StatusTooManyRequests {
		t.Fatalf("request over the in-flight cap: %d %v, want 429", st, err)
	}
	if hdr.Get("Retry-After") == "" {
		t.Fatalf("429 without Retry-After: %v", hdr)
	}

	// Another client is served meanwhile.
	other := make(chan result, 1)
	go func() {
		st, _, err := post("198.51.100.2")
		other <- result{st, err}
	}()
	select {
	case m := <-arrived:
		reply(m)
	case <-time.After(5 * time.Second):
		t.Fatal("other client's request never reached the executor")
	}
	if r := <-other; r.err != nil || r.status != 200 {
		t.Fatalf("other client: %d %v", r.status, r.err)
	}

	// The held requests finish normally, and the slots are released.
	for _, m := range held {
		reply(m)
	}
	for range 2 {
		if r := <-slow; r.err != nil || r.status != 200 {
			t.Fatalf("held request: %d %v", r.status, r.err)
		}
	}
	go func() {
		select {
		case m := <-arrived:
			reply(m)
		case <-time.After(5 * time.Second):
		}
	}()
	if st, _, err := post("198.51.100.1"); err != nil || st != 200 {
		t.Fatalf("after release: %d %v", st, err)
	}
	if s.ProtectStats().RejectedInflight == 0 {
		t.Fatalf("stats %+v", s.ProtectStats())
	}
}
