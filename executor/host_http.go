package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/avapmesh/avap/bus/breaker"
	"github.com/avapmesh/avap/vm"
)

// newHTTPClient builds the one client (and connection pool) of the Host:
// every connection goes through the egress dialer, proxies from the
// environment are ignored (they would bypass the policy), and redirects are
// bounded and limited to http/https (each one dials through the policy).
func (h *Host) newHTTPClient() *http.Client {
	d := &egressDialer{policy: h.policy, resolver: h.opts.Egress.Resolver}
	d.dialer.Timeout = 10 * time.Second
	d.dialer.KeepAlive = 30 * time.Second
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            d.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           256,
		MaxIdleConnsPerHost:    32,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		ResponseHeaderTimeout:  h.opts.Egress.Timeout,
		MaxResponseHeaderBytes: 64 << 10,
	}
	maxRedirects := h.opts.Egress.MaxRedirects
	return &http.Client{
		Transport: h.guardTransport(tr), // circuit breaker per host (host_breaker.go)
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if maxRedirects < 0 || len(via) > maxRedirects {
				return fmt.Errorf("stopped after %d redirects", len(via))
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return fmt.Errorf("redirect to scheme %q refused", req.URL.Scheme)
			}
			if ok, _ := h.policy.hostAllowed(req.URL.Hostname()); !ok {
				return fmt.Errorf("%w: redirect to host %s", ErrEgressDenied, req.URL.Hostname())
			}
			return nil
		},
	}
}

// errHTTPStatus is the error of RequestGet for a 4xx/5xx answer.
type errHTTPStatus struct {
	status int
	body   string
}

func (e *errHTTPStatus) Error() string {
	if e.body == "" {
		return "HTTP " + strconv.Itoa(e.status)
	}
	return "HTTP " + strconv.Itoa(e.status) + ": " + e.body
}

// requestGet is RequestGet(url, querystring, headers, target) (LANGUAGE.md
// §12.8): a 4xx/5xx answer or a network failure raises a (catchable)
// error; the body comes back parsed as JSON when it is JSON, else as text.
func (h *Host) requestGet(ctx context.Context, u, qs, hdr vm.Value) (vm.Value, error) {
	req, err := h.newRequest(ctx, http.MethodGet, u, qs, hdr, vm.None)
	if err != nil {
		return vm.None, err
	}
	status, body, err := h.do(req)
	if err != nil {
		return vm.None, err
	}
	if status >= 400 {
		return vm.None, &errHTTPStatus{status: status, body: snippet(body)}
	}
	return bodyValue(body), nil
}

// requestPost is RequestPost(url, querystring, headers, body, target): a
// dict or list body (or JSON-ish text of one) is sent as JSON, other text
// as it is. Errors are not raised: a failure to get an answer returns
// {"error": "<text>"}, and a 4xx/5xx answer returns its body (§12.8).
// A capability refusal is still an error (checked before).
func (h *Host) requestPost(ctx context.Context, u, qs, hdr, body vm.Value) (vm.Value, error) {
	req, err := h.newRequest(ctx, http.MethodPost, u, qs, hdr, body)
	if err == nil {
		var status int
		var b []byte
		status, b, err = h.do(req)
		if err == nil {
			_ = status
			return bodyValue(b), nil
		}
	}
	if ctx.Err() != nil { // the run's deadline or cancellation: the machine reports it
		return vm.None, ctx.Err()
	}
	d := vm.NewDict(1)
	d.Set("error", vm.String(err.Error()))
	return d, nil
}

func (h *Host) newRequest(ctx context.Context, method string, uv, qs, hdr, body vm.Value) (*http.Request, error) {
	if uv.Kind() != vm.KindString {
		return nil, fmt.Errorf("url must be text, not %s", uv.Kind())
	}
	u, err := url.Parse(strings.TrimSpace(uv.AsString()))
	if err != nil {
		return nil, fmt.Errorf("bad url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("url must be an absolute http or https URL")
	}
	if u.User != nil {
		return nil, errors.New("url must not hold credentials")
	}
	if q := jsonish(qs); q.Len() > 0 {
		values := u.Query()
		for _, k := range q.Keys() {
			v, _ := q.Get(k)
			if v.Kind() == vm.KindList {
				for i := range v.Len() {
					values.Add(k, text(v.Index(i)))
				}
				continue
			}
			values.Set(k, text(v))
		}
		u.RawQuery = values.Encode()
	}
	var rd io.Reader
	contentType := ""
	switch body.Kind() {
	case vm.KindNone:
	case vm.KindDict, vm.KindList:
		b, err := body.MarshalJSON()
		if err != nil {
			return nil, err
		}
		rd, contentType = bytes.NewReader(b), "application/json"
	default:
		s := text(body)
		if d := jsonish(body); d.Len() > 0 {
			b, _ := d.MarshalJSON()
			rd, contentType = bytes.NewReader(b), "application/json"
		} else if s != "" {
			rd = strings.NewReader(s)
			if strings.Contains(s, "=") && !strings.ContainsAny(s, " \n{") {
				contentType = "application/x-www-form-urlencoded"
			} else {
				contentType = "text/plain; charset=utf-8"
			}
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "avap")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if hd := jsonish(hdr); hd.Len() > 0 {
		for _, k := range hd.Keys() {
			v, _ := hd.Get(k)
			if strings.EqualFold(k, "host") {
				continue // the URL decides where the request goes
			}
			req.Header.Set(k, text(v))
		}
	}
	return req, nil
}

// do sends req and reads at most MaxResponseBytes of the answer.
func (h *Host) do(req *http.Request) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(req.Context(), h.opts.Egress.Timeout) // and the run's deadline
	defer cancel()
	req = req.WithContext(ctx)
	start := time.Now()
	resp, err := h.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if breaker.IsOpen(err) {
			return 0, nil, circuitOpen(req.URL.Host)
		}
		h.log.Debug("egress request failed", "method", req.Method, "host", req.URL.Host, "err", err)
		return 0, nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	limit := h.opts.Egress.MaxResponseBytes
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return 0, nil, fmt.Errorf("read response: %w", err)
	}
	if int64(len(b)) > limit {
		return 0, nil, fmt.Errorf("response larger than %d bytes", limit)
	}
	h.log.Debug("egress request", "method", req.Method, "host", req.URL.Host, "status", resp.StatusCode,
		"bytes", len(b), "duration", time.Since(start))
	return resp.StatusCode, b, nil
}

// bodyValue is a response body: parsed JSON, or text.
func bodyValue(b []byte) vm.Value {
	t := bytes.TrimSpace(b)
	if len(t) > 0 && (t[0] == '{' || t[0] == '[' || t[0] == '"' || t[0] == '-' || t[0] >= '0' && t[0] <= '9' || t[0] == 't' || t[0] == 'f' || t[0] == 'n') {
		if v, err := vm.ParseJSON(t); err == nil {
			return v
		}
	}
	if !utf8.Valid(b) {
		b = bytes.ToValidUTF8(b, []byte("\uFFFD"))
	}
	return vm.String(string(b))
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(bytes.ToValidUTF8(b, []byte("\uFFFD"))))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// jsonish returns v when it is a dict, the dict a text holds as JSON or
// as a Python literal (single quotes, True/False/None), and an empty dict
// for anything else (an empty slot, "", a number...), as LANGUAGE.md §12.8.
func jsonish(v vm.Value) vm.Value {
	switch v.Kind() {
	case vm.KindDict:
		return v
	case vm.KindString:
		s := strings.TrimSpace(v.AsString())
		if len(s) < 2 || s[0] != '{' {
			break
		}
		if d, err := vm.ParseJSON([]byte(s)); err == nil && d.Kind() == vm.KindDict {
			return d
		}
		if d, err := vm.ParseJSON([]byte(pyToJSON(s))); err == nil && d.Kind() == vm.KindDict {
			return d
		}
	}
	return vm.NewDict(0)
}

// pyToJSON rewrites a Python dict literal into JSON: '...' strings become
// "..." strings, and True, False, None outside strings become true,
// false, null.
func pyToJSON(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' || c == '"':
			q := c
			b.WriteByte('"')
			for i++; i < len(s) && s[i] != q; i++ {
				switch {
				case s[i] == '\\' && i+1 < len(s):
					if s[i+1] == '\'' {
						b.WriteByte('\'')
					} else {
						b.WriteByte('\\')
						b.WriteByte(s[i+1])
					}
					i++
				case s[i] == '"':
					b.WriteString(`\"`)
				default:
					b.WriteByte(s[i])
				}
			}
			b.WriteByte('"')
		case strings.HasPrefix(s[i:], "True"):
			b.WriteString("true")
			i += 3
		case strings.HasPrefix(s[i:], "False"):
			b.WriteString("false")
			i += 4
		case strings.HasPrefix(s[i:], "None"):
			b.WriteString("null")
			i += 3
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// text is the str() form of a value for a query parameter or header.
func text(v vm.Value) string {
	switch v.Kind() {
	case vm.KindString:
		return v.AsString()
	case vm.KindNone:
		return ""
	}
	return v.String()
}
