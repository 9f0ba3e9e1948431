// SPDX-License-Identifier: MIT

// Command control is an independent TS2021 control-plane test server
// (PROTOCOL.md §1.1, §1.2, §1.5, §2.1): the /key fetch, the HTTP upgrade that
// carries the Noise initiation, the early payload, and HTTP/2 over the Noise
// record stream (golang.org/x/net/http2). The Noise IK handshake is
// github.com/flynn/noise; the framing and transport are in cbase.go, shared
// with peer.go. Nothing here is taken from Tailscale's code.
//
// Build offline, GOPATH mode, Debian packages only (golang-go,
// golang-github-flynn-noise-dev, golang-golang-x-crypto-dev,
// golang-golang-x-net-dev):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$tmp/gocache \
//	    CGO_ENABLED=0 GOPROXY=off \
//	    go build -o $tmp/ts2021-control tests/ts2021/control.go tests/ts2021/cbase.go
//
// Server (the default role; our C code is the client):
//
//	control -listen 127.0.0.1:0 [-key HEX] [-min-version N]
//	        [-no-early-payload] [-hostile MODE] [-auth-key KEY] [-timeout D]
//
// prints "LISTEN <host:port>" and "PUB <server Noise public key hex>", then
// serves HTTP/1.1 until killed or -timeout (exit 2):
//
//   - GET /key?v=N: 400 without a numeric v, else application/json
//     {"legacyPublicKey":"mkey:<64 zeros>","publicKey":"mkey:<hex>"}.
//   - POST or GET /ts2021 with "Upgrade: tailscale-control-protocol",
//     "Connection: upgrade" and "X-Tailscale-Handshake: <std base64 of the
//     101-byte initiation>" (400 otherwise). A version below -min-version
//     (default 113) gets the 101 and then EOF with no Noise response (as
//     headscale does) and the line "REJECT version <N>". Otherwise the 101
//     headers, the 51-byte Noise response and the first record (the early
//     payload "\xff\xff\xffTS" ‖ u32 BE length ‖ {"nodeKeyChallenge":
//     "chalpub:<hex>"}) go out in ONE write, the line "PEER <client machine
//     public key hex>" is printed, and HTTP/2 is served over the records:
//     /echo, /status/NNN, /big?n=N, /rst, /slow and POST /machine/register
//     (see serveH2, handleRegister; prints "REGISTER <nodekey> <hostname>");
//     every other path answers 200 "hello from ts2021 test server\n".
//
// -no-early-payload omits the early payload (the server's HTTP/2 SETTINGS is
// then the first plaintext); the early-* hostile modes ignore it. -hostile MODE makes the server misbehave; see
// hostileModes below and README.md for what each mode puts on the wire.
//
// Client (a Go-to-Go check of the server, and a reference for what a client
// must do):
//
//	control -role client -url http://127.0.0.1:PORT [-version N] [-lax]
//
// prints "KEY <hex>", "HANDSHAKE", "EARLY <json>" or "EARLY none",
// "STATUS <code>", "BODY <quoted>" and "OK" (exit 0), or stops at the first
// problem with "FAIL <stage>: <reason>" (exit 1). -lax skips the checks of
// the Upgrade value, the early payload's size limit and its JSON, to show
// what a hostile server sends after the fault.
package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flynn/noise"
	"golang.org/x/net/http2"
)

const (
	upgradeValue  = "tailscale-control-protocol"
	handshakeHdr  = "X-Tailscale-Handshake"
	earlyMagic    = "\xff\xff\xffTS"
	earlyHdrLen   = len(earlyMagic) + 4 // 9, the size of an HTTP/2 frame header
	earlyMax      = 10 << 20            // the client's limit on the early JSON
	earlyBigLen   = 11 << 20            // what -hostile early-big declares and sends
	helloBody     = "hello from ts2021 test server\n"
	switching     = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: " + upgradeValue + "\r\nConnection: upgrade\r\n\r\n"
	switchingWS   = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n"
	hostileErrTxt = "go away"
	drainTimeout  = 10 * time.Second
)

// hostileModes lists the -hostile modes with a one-line description each.
var hostileModes = []struct{ name, what string }{
	{"key-404", "/key answers 404"},
	{"key-500", "/key answers 500"},
	{"key-notjson", "/key answers 200 application/json with a body that is not JSON"},
	{"key-short", "/key's publicKey has 63 hex digits"},
	{"key-zero", "/key's publicKey is all zeros"},
	{"upgrade-200", "/ts2021 answers 200 OK with a body instead of 101"},
	{"upgrade-wrong", "101 with Upgrade: websocket, then the normal Noise response, early payload and HTTP/2"},
	{"upgrade-close", "/ts2021 closes the connection right after reading the request"},
	{"noise-error", "101, then the error frame 03 0007 \"go away\" instead of the response"},
	{"noise-badtag", "101, then the response with one bit of its tag flipped"},
	{"record-oversize", "101 + response, then a 4097-byte record frame (header says 4094) as the first record"},
	{"early-big", "early payload declaring 11 MiB and sending all of it, then HTTP/2"},
	{"early-badjson", "early payload of the 5 bytes {bad}, then HTTP/2"},
	{"early-deep", "early payload of 100000 nested [ (a JSON depth bomb), then HTTP/2"},
	{"silence", "101 + response, then nothing; the connection stays open"},
}

func validHostile(m string) bool {
	if m == "" {
		return true
	}
	for _, h := range hostileModes {
		if h.name == m {
			return true
		}
	}
	return false
}

// ---- noiseConn: a net.Conn over the record layer -------------------------

// noiseConn carries a byte stream over TS2021 records: Read decrypts records
// (skipping empty ones), Write splits into records of at most 4077 bytes.
// Any read error (a bad tag, an oversized or unexpected frame) is final and
// closes the connection; so is a failed write.
type noiseConn struct {
	t    *transport
	conn net.Conn

	rmu  sync.Mutex
	rbuf []byte
	rerr error

	wmu  sync.Mutex
	werr error
}

func (c *noiseConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for len(c.rbuf) == 0 {
		if c.rerr != nil {
			return 0, c.rerr
		}
		pt, err := c.t.readRecord()
		if err != nil {
			c.rerr = err
			if err != io.EOF {
				c.conn.Close()
			}
			return 0, err
		}
		c.rbuf = pt
	}
	n := copy(p, c.rbuf)
	c.rbuf = c.rbuf[n:]
	return n, nil
}

// unread puts plaintext back in front of the stream (the client's 9-byte
// early-payload probe).
func (c *noiseConn) unread(b []byte) {
	c.rmu.Lock()
	c.rbuf = append(append([]byte(nil), b...), c.rbuf...)
	c.rmu.Unlock()
}

func (c *noiseConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.werr != nil {
		return 0, c.werr
	}
	if len(p) == 0 {
		return 0, nil
	}
	if err := c.t.write(p); err != nil {
		c.werr = err
		c.conn.Close()
		return 0, err
	}
	return len(p), nil
}

func (c *noiseConn) Close() error                       { return c.conn.Close() }
func (c *noiseConn) LocalAddr() net.Addr                { return c.conn.LocalAddr() }
func (c *noiseConn) RemoteAddr() net.Addr               { return c.conn.RemoteAddr() }
func (c *noiseConn) SetDeadline(t time.Time) error      { return c.conn.SetDeadline(t) }
func (c *noiseConn) SetReadDeadline(t time.Time) error  { return c.conn.SetReadDeadline(t) }
func (c *noiseConn) SetWriteDeadline(t time.Time) error { return c.conn.SetWriteDeadline(t) }

// ---- server -------------------------------------------------------------

type server struct {
	static     noise.DHKey
	minVersion int
	early      bool
	hostile    string
	authKey    string // the pre-auth key /machine/register accepts
}

type keyResponse struct {
	LegacyPublicKey string `json:"legacyPublicKey"`
	PublicKey       string `json:"publicKey"`
}

type earlyNoise struct {
	NodeKeyChallenge string `json:"nodeKeyChallenge"`
}

func (s *server) handleKey(w http.ResponseWriter, r *http.Request) {
	logf("%s %s from %s", r.Method, r.URL.RequestURI(), r.RemoteAddr)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	v := r.URL.Query().Get("v")
	if v == "" {
		http.Error(w, "missing v parameter", http.StatusBadRequest)
		return
	}
	if _, err := strconv.Atoi(v); err != nil {
		http.Error(w, "bad v parameter", http.StatusBadRequest)
		return
	}
	pub := hex.EncodeToString(s.static.Public)
	switch s.hostile {
	case "key-404":
		http.NotFound(w, r)
		return
	case "key-500":
		http.Error(w, "hostile: internal server error", http.StatusInternalServerError)
		return
	case "key-notjson":
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, "<html><body>hostile: not JSON</body></html>\n")
		return
	case "key-short":
		pub = pub[:63]
	case "key-zero":
		pub = strings.Repeat("0", 64)
	}
	body, err := json.Marshal(keyResponse{
		LegacyPublicKey: "mkey:" + strings.Repeat("0", 64),
		PublicKey:       "mkey:" + pub,
	})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

// hasToken reports whether a comma-separated header contains tok (case-insensitive).
func hasToken(h http.Header, name, tok string) bool {
	for _, v := range h.Values(name) {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), tok) {
				return true
			}
		}
	}
	return false
}

// finish half-closes conn, waits (bounded) for the peer to close so that our
// last bytes are not lost to a reset, and closes it.
func finish(conn net.Conn, rd io.Reader) {
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	conn.SetReadDeadline(time.Now().Add(drainTimeout))
	drain(rd)
	conn.Close()
}

func (s *server) handleUpgrade(w http.ResponseWriter, r *http.Request) {
	logf("%s %s from %s", r.Method, r.URL.RequestURI(), r.RemoteAddr)
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), upgradeValue) {
		logf("refused: Upgrade %q", r.Header.Get("Upgrade"))
		http.Error(w, "unknown next protocol", http.StatusBadRequest)
		return
	}
	if !hasToken(r.Header, "Connection", "upgrade") {
		logf("refused: Connection %q", r.Header.Values("Connection"))
		http.Error(w, "missing Connection: upgrade", http.StatusBadRequest)
		return
	}
	init, err := base64.StdEncoding.DecodeString(r.Header.Get(handshakeHdr))
	if err != nil || len(init) != initLen {
		logf("refused: bad %s (%d chars)", handshakeHdr, len(r.Header.Get(handshakeHdr)))
		http.Error(w, "invalid Tailscale handshake header", http.StatusBadRequest)
		return
	}
	version := binary.BigEndian.Uint16(init[0:])
	if init[2] != msgInitiation || binary.BigEndian.Uint16(init[3:]) != initPayloadLen {
		logf("refused: initiation type %d length %d", init[2], binary.BigEndian.Uint16(init[3:]))
		http.Error(w, "invalid handshake initiation", http.StatusBadRequest)
		return
	}
	if s.hostile == "upgrade-200" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "hostile: this is not an upgrade\n")
		logf("hostile upgrade-200: answered 200")
		return
	}

	conn, brw, err := w.(http.Hijacker).Hijack()
	if err != nil {
		logf("hijack: %v", err)
		return
	}
	conn.SetDeadline(time.Time{})
	rd := brw.Reader

	if s.hostile == "upgrade-close" {
		logf("hostile upgrade-close: closing")
		conn.Close()
		return
	}
	if int(version) < s.minVersion {
		say("REJECT version %d", version)
		conn.Write([]byte(switching))
		finish(conn, rd)
		return
	}
	if s.hostile == "noise-error" {
		conn.Write(append([]byte(switching), errorFrame(hostileErrTxt)...))
		logf("hostile noise-error: sent error frame")
		finish(conn, rd)
		return
	}

	hs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite:   cipherSuite,
		Pattern:       noise.HandshakeIK,
		Initiator:     false,
		Prologue:      prologue(version),
		StaticKeypair: s.static,
	})
	if err != nil {
		fatalf("handshake state: %v", err)
	}
	if _, _, _, err := hs.ReadMessage(nil, init[initHeaderLen:]); err != nil {
		logf("initiation (version %d) does not authenticate: %v", version, err)
		conn.Write(append([]byte(switching), errorFrame("handshake failed")...))
		finish(conn, rd)
		return
	}
	resp, csI2R, csR2I, err := hs.WriteMessage(nil, nil)
	if err != nil || csI2R == nil || len(resp) != respPayloadLen {
		fatalf("write response: %v (len %d)", err, len(resp))
	}
	if s.hostile == "noise-badtag" {
		resp[len(resp)-1] ^= 0x01
	}
	out := []byte(switching)
	if s.hostile == "upgrade-wrong" {
		out = []byte(switchingWS)
	}
	out = append(out, msgResponse, 0, respPayloadLen)
	out = append(out, resp...)
	t := &transport{conn: conn, rd: rd, rx: aeadOf(csI2R), tx: aeadOf(csR2I)}

	switch s.hostile {
	case "noise-badtag":
		conn.Write(out)
		logf("hostile noise-badtag: sent a response with a bad tag")
		finish(conn, rd)
		return
	case "silence":
		conn.Write(out)
		say("PEER %s", hex.EncodeToString(hs.PeerStatic()))
		logf("hostile silence: holding the connection open")
		drain(rd)
		conn.Close()
		return
	case "record-oversize":
		f := make([]byte, maxFrame+1)
		f[0] = msgRecord
		binary.BigEndian.PutUint16(f[1:], maxFrame+1-headerLen)
		io.ReadFull(rand.Reader, f[headerLen:])
		conn.Write(append(out, f...))
		say("PEER %s", hex.EncodeToString(hs.PeerStatic()))
		logf("hostile record-oversize: sent a %d-byte frame", len(f))
		finish(conn, rd)
		return
	}

	// The early payload; its first record goes out with the headers and the
	// response, the rest (only for early-big) follows.
	var rest []byte
	if s.early {
		ep := earlyPayload(s.hostile)
		n := len(ep)
		if n > maxPlaintext {
			n = maxPlaintext
		}
		out = append(out, t.sealRecord(ep[:n])...)
		rest = ep[n:]
	}
	if _, err := conn.Write(out); err != nil {
		logf("write: %v", err)
		conn.Close()
		return
	}
	say("PEER %s", hex.EncodeToString(hs.PeerStatic()))
	if len(rest) > 0 {
		if err := t.write(rest); err != nil {
			logf("writing the rest of the early payload: %v", err)
			conn.Close()
			return
		}
		logf("sent an early payload of %d bytes", len(rest)+maxPlaintext)
	}

	nc := &noiseConn{t: t, conn: conn}
	(&http2.Server{}).ServeConn(nc, &http2.ServeConnOpts{Handler: http.HandlerFunc(s.serveH2)})
	nc.Close()
	logf("noise connection from %s ended", r.RemoteAddr)
}

// serveH2 answers the HTTP/2 requests made over the records: /echo (POST:
// 200 with the request body), /status/NNN (that status, a short body),
// /big?n=N (N bytes of 'x'), /rst (RST_STREAM via http.ErrAbortHandler),
// /slow (answers only when the request is cancelled or reset); any other
// path 200 helloBody. POST /machine/register: see handleRegister.
func (s *server) serveH2(w http.ResponseWriter, r *http.Request) {
	logf("h2 %s %s", r.Method, r.URL.RequestURI())
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	switch p := r.URL.Path; {
	case p == "/machine/register":
		s.handleRegister(w, r)
		return
	case p == "/echo":
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		if err != nil {
			logf("h2 /echo: reading the body: %v", err)
			panic(http.ErrAbortHandler)
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(body)
		return
	case strings.HasPrefix(p, "/status/"):
		code, err := strconv.Atoi(strings.TrimPrefix(p, "/status/"))
		if err != nil || code < 200 || code > 599 {
			http.Error(w, "bad status", http.StatusBadRequest)
			return
		}
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(code)
		fmt.Fprintf(w, "status %d\n", code)
		return
	case p == "/big":
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil || n < 0 || n > 64<<20 {
			http.Error(w, "bad n", http.StatusBadRequest)
			return
		}
		io.Copy(io.Discard, r.Body)
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for n > 0 {
			c := chunk
			if n < len(c) {
				c = c[:n]
			}
			if _, err := w.Write(c); err != nil {
				logf("h2 /big: %v", err)
				return
			}
			n -= len(c)
		}
		return
	case p == "/rst":
		logf("h2 /rst: resetting the stream")
		panic(http.ErrAbortHandler)
	case p == "/slow":
		<-r.Context().Done()
		logf("h2 /slow: %v", r.Context().Err())
		return
	}
	io.Copy(io.Discard, r.Body)
	io.WriteString(w, helloBody)
}

// registerRequest mirrors the tailcfg.RegisterRequest fields (PROTOCOL.md
// §2.3) the C client sends; unknown fields are ignored, as Go does.
type registerRequest struct {
	Version    int
	NodeKey    string
	OldNodeKey string
	Auth       *struct{ AuthKey string }
	Expiry     time.Time
	Followup   string
	Hostinfo   *struct{ Hostname string }
}

type registerUser struct {
	DisplayName string
}

type registerLogin struct {
	LoginName string
}

// registerResponse mirrors tailcfg.RegisterResponse; only the set fields are
// sent.
type registerResponse struct {
	User              *registerUser  `json:",omitempty"`
	Login             *registerLogin `json:",omitempty"`
	NodeKeyExpired    bool           `json:",omitempty"`
	MachineAuthorized *bool          `json:",omitempty"`
	AuthURL           string         `json:",omitempty"`
	Error             string         `json:",omitempty"`
}

// validNodeKey: "nodekey:" + 64 hex digits, not all zeros (strict, like
// Go's key parser, plus the zero check a server makes).
func validNodeKey(k string) bool {
	const prefix = "nodekey:"
	if !strings.HasPrefix(k, prefix) || len(k) != len(prefix)+64 {
		return false
	}
	b, err := hex.DecodeString(k[len(prefix):])
	return err == nil && !bytes.Equal(b, make([]byte, 32))
}

// handleRegister answers POST /machine/register (PROTOCOL.md §2.3): 400
// unless the body is a RegisterRequest with a valid NodeKey; a past, non-zero
// Expiry is a logout ({"NodeKeyExpired":true,"MachineAuthorized":false});
// the right auth key is authorized (with a test user and login); a wrong one
// gets HTTP 200 {"Error":"invalid auth key"}; no auth key gets an AuthURL.
// Prints "REGISTER <nodekey> <hostname>" for each decoded request.
func (s *server) handleRegister(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	var req registerRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		logf("h2 /machine/register: %v", err)
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	host := ""
	if req.Hostinfo != nil {
		host = req.Hostinfo.Hostname
	}
	say("REGISTER %s %s", req.NodeKey, host)
	if !validNodeKey(req.NodeKey) {
		http.Error(w, "bad NodeKey", http.StatusBadRequest)
		return
	}
	var resp registerResponse
	no := false
	yes := true
	switch {
	case !req.Expiry.IsZero() && req.Expiry.Before(time.Now()):
		resp.NodeKeyExpired = true
		resp.MachineAuthorized = &no
	case req.Auth == nil || req.Auth.AuthKey == "":
		resp.AuthURL = "http://127.0.0.1/a/xyz"
	case req.Auth.AuthKey != s.authKey:
		resp.Error = "invalid auth key"
	default:
		resp.MachineAuthorized = &yes
		resp.User = &registerUser{DisplayName: "Test User"}
		resp.Login = &registerLogin{LoginName: "test@example.com"}
	}
	body, err := json.Marshal(resp)
	if err != nil {
		fatalf("json: %v", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

// earlyPayload returns the plaintext the server sends first.
func earlyPayload(hostile string) []byte {
	var chal [32]byte
	if _, err := io.ReadFull(rand.Reader, chal[:]); err != nil {
		fatalf("random: %v", err)
	}
	body, err := json.Marshal(earlyNoise{NodeKeyChallenge: "chalpub:" + hex.EncodeToString(chal[:])})
	if err != nil {
		fatalf("json: %v", err)
	}
	switch hostile {
	case "early-badjson":
		body = []byte("{bad}")
	case "early-deep":
		body = bytes.Repeat([]byte("["), 100000)
	case "early-big":
		// Valid JSON of exactly earlyBigLen bytes, so only the size is wrong.
		pre := append(body[:len(body)-1], `,"pad":"`...)
		pad := earlyBigLen - len(pre) - len(`"}`)
		body = append(append(pre, bytes.Repeat([]byte("x"), pad)...), `"}`...)
	}
	ep := make([]byte, earlyHdrLen, earlyHdrLen+len(body))
	copy(ep, earlyMagic)
	binary.BigEndian.PutUint32(ep[len(earlyMagic):], uint32(len(body)))
	return append(ep, body...)
}

func runServer(listen, keyHex string, minVersion int, early bool, hostile, authKey string) {
	s := &server{static: keypair(keyHex, "key"), minVersion: minVersion, early: early, hostile: hostile,
		authKey: authKey}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		fatalf("listen: %v", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/key", s.handleKey)
	mux.HandleFunc("/ts2021", s.handleUpgrade)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: drainTimeout}
	say("LISTEN %s", ln.Addr())
	say("PUB %s", hex.EncodeToString(s.static.Public))
	if hostile != "" {
		logf("hostile mode %s", hostile)
	}
	fatalf("serve: %v", srv.Serve(ln))
}

// ---- client -------------------------------------------------------------

func fail(stage string, format string, args ...interface{}) {
	say("FAIL %s: %s", stage, fmt.Sprintf(format, args...))
	os.Exit(1)
}

// parseKey checks a "<prefix><64 hex>" key that is not all zeros.
func parseKey(s, prefix string) ([]byte, error) {
	if !strings.HasPrefix(s, prefix) {
		return nil, fmt.Errorf("%q lacks the prefix %q", s, prefix)
	}
	k, err := hex.DecodeString(s[len(prefix):])
	if err != nil || len(k) != 32 {
		return nil, fmt.Errorf("%q is not %s<64 hex digits>", s, prefix)
	}
	if bytes.Equal(k, make([]byte, 32)) {
		return nil, errors.New("the key is all zeros")
	}
	return k, nil
}

func runClient(base string, version int, ioTimeout time.Duration, lax bool) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		fatalf("-url must be http://host:port")
	}
	if version < 0 || version > 0xffff {
		fatalf("-version out of range")
	}

	// 1. /key
	hc := &http.Client{Timeout: ioTimeout}
	res, err := hc.Get(fmt.Sprintf("%s/key?v=%d", strings.TrimSuffix(base, "/"), version))
	if err != nil {
		fail("key", "%v", err)
	}
	kb, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
	if err != nil {
		fail("key", "%v", err)
	}
	if res.StatusCode != http.StatusOK {
		fail("key", "HTTP %d", res.StatusCode)
	}
	var kr keyResponse
	if err := json.Unmarshal(kb, &kr); err != nil {
		fail("key", "body is not JSON: %v", err)
	}
	serverPub, err := parseKey(kr.PublicKey, "mkey:")
	if err != nil {
		fail("key", "publicKey: %v", err)
	}
	say("KEY %s", hex.EncodeToString(serverPub))

	// 2. The upgrade carrying the initiation.
	machine := keypair("", "machine-key")
	hs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite:   cipherSuite,
		Pattern:       noise.HandshakeIK,
		Initiator:     true,
		Prologue:      prologue(uint16(version)),
		StaticKeypair: machine,
		PeerStatic:    serverPub,
	})
	if err != nil {
		fatalf("handshake state: %v", err)
	}
	msg, _, _, err := hs.WriteMessage(nil, nil)
	if err != nil || len(msg) != initPayloadLen {
		fatalf("write initiation: %v (len %d)", err, len(msg))
	}
	init := make([]byte, initHeaderLen, initLen)
	binary.BigEndian.PutUint16(init[0:], uint16(version))
	init[2] = msgInitiation
	binary.BigEndian.PutUint16(init[3:], initPayloadLen)
	init = append(init, msg...)

	conn, err := net.DialTimeout("tcp", u.Host, ioTimeout)
	if err != nil {
		fail("upgrade", "%v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(ioTimeout))
	req, _ := http.NewRequest(http.MethodPost, base+"/ts2021", nil)
	req.Header.Set("Upgrade", upgradeValue)
	req.Header.Set("Connection", "upgrade")
	req.Header.Set(handshakeHdr, base64.StdEncoding.EncodeToString(init))
	if err := req.Write(conn); err != nil {
		fail("upgrade", "%v", err)
	}
	// One reader for the headers and everything after them: bytes the HTTP
	// parser buffered past the headers are the start of the Noise stream.
	rd := bufio.NewReaderSize(conn, 2*maxFrame)
	res, err = http.ReadResponse(rd, req)
	if err != nil {
		fail("upgrade", "%v", err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		fail("upgrade", "HTTP %d, want 101", res.StatusCode)
	}
	if got := res.Header.Get("Upgrade"); got != upgradeValue && !lax {
		fail("upgrade", "Upgrade %q, want %q", got, upgradeValue)
	}

	// 3. The Noise response.
	typ, body, err := readFrame(rd)
	if err != nil {
		fail("noise", "reading the response: %v", err)
	}
	switch {
	case typ == msgError:
		fail("noise", "error frame %q", body)
	case typ != msgResponse || len(body) != respPayloadLen:
		fail("noise", "bad response frame: type %d, %d bytes", typ, len(body))
	}
	_, csI2R, csR2I, err := hs.ReadMessage(nil, body)
	if err != nil || csI2R == nil {
		fail("noise", "response does not authenticate: %v", err)
	}
	say("HANDSHAKE")
	nc := &noiseConn{t: &transport{conn: conn, rd: rd, tx: aeadOf(csI2R), rx: aeadOf(csR2I)}, conn: conn}

	// 4. The optional early payload: 9 bytes decide.
	var hdr [earlyHdrLen]byte
	if _, err := io.ReadFull(nc, hdr[:]); err != nil {
		fail("early", "reading the first 9 bytes: %v", err)
	}
	if string(hdr[:len(earlyMagic)]) == earlyMagic {
		n := binary.BigEndian.Uint32(hdr[len(earlyMagic):])
		if n > earlyMax && !lax {
			fail("early", "declares %d bytes, over the %d limit", n, earlyMax)
		}
		eb := make([]byte, n)
		if _, err := io.ReadFull(nc, eb); err != nil {
			fail("early", "reading %d bytes: %v", n, err)
		}
		var en earlyNoise
		if err := json.Unmarshal(eb, &en); err != nil && !lax {
			fail("early", "not JSON: %v", err)
		}
		if _, err := parseKey(en.NodeKeyChallenge, "chalpub:"); err != nil && !lax {
			fail("early", "nodeKeyChallenge: %v", err)
		}
		if len(eb) > 200 {
			say("EARLY %d bytes: %s…", len(eb), eb[:80])
		} else {
			say("EARLY %s", eb)
		}
	} else {
		nc.unread(hdr[:])
		say("EARLY none")
	}

	// 5. HTTP/2 with prior knowledge over the records.
	cc, err := (&http2.Transport{}).NewClientConn(nc)
	if err != nil {
		fail("h2", "%v", err)
	}
	hreq, _ := http.NewRequest(http.MethodGet, "https://"+u.Host+"/hello", nil)
	hres, err := cc.RoundTrip(hreq)
	if err != nil {
		fail("h2", "%v", err)
	}
	hb, err := io.ReadAll(hres.Body)
	hres.Body.Close()
	if err != nil {
		fail("h2", "reading the body: %v", err)
	}
	say("STATUS %d", hres.StatusCode)
	say("BODY %q", hb)
	if hres.StatusCode != http.StatusOK || string(hb) != helloBody {
		fail("h2", "unexpected answer")
	}
	cc.Close()
	say("OK")
}

// ---- main ---------------------------------------------------------------

func main() {
	role := flag.String("role", "server", "server or client")
	listen := flag.String("listen", "127.0.0.1:0", "server: address to listen on")
	key := flag.String("key", "", "server: static private key (64 hex); random if empty")
	minVersion := flag.Int("min-version", 113, "server: lowest accepted protocol (capability) version")
	noEarly := flag.Bool("no-early-payload", false, "server: send no early payload")
	hostile := flag.String("hostile", "", "server: misbehave (see -list-hostile)")
	authKey := flag.String("auth-key", "tskey-test", "server: the auth key /machine/register accepts")
	listHostile := flag.Bool("list-hostile", false, "list the -hostile modes and exit")
	base := flag.String("url", "", "client: server base URL, http://host:port")
	version := flag.Int("version", 130, "client: protocol (capability) version")
	lax := flag.Bool("lax", false, "client: skip the Upgrade value, early-payload size and JSON checks (to see what a hostile server sends next)")
	ioTimeout := flag.Duration("io-timeout", 10*time.Second, "client: limit for each stage")
	timeout := flag.Duration("timeout", 60*time.Second, "hang guard: exit 2 after this long")
	flag.Parse()
	progName = "ts2021-control"
	if flag.NArg() != 0 {
		fatalf("unexpected arguments %q", flag.Args())
	}
	if *listHostile {
		for _, h := range hostileModes {
			say("%-16s %s", h.name, h.what)
		}
		return
	}
	if !validHostile(*hostile) {
		fatalf("unknown -hostile mode %q (see -list-hostile)", *hostile)
	}
	checkProtocolName()
	time.AfterFunc(*timeout, func() {
		logf("hang guard: %v elapsed", *timeout)
		os.Exit(2)
	})

	switch *role {
	case "server":
		// The early-* modes are about the early payload, so they always send one.
		early := !*noEarly || strings.HasPrefix(*hostile, "early-")
		runServer(*listen, *key, *minVersion, early, *hostile, *authKey)
	case "client":
		if *base == "" {
			fatalf("-url is required")
		}
		runClient(*base, *version, *ioTimeout, *lax)
	default:
		fatalf("-role must be server or client")
	}
}
