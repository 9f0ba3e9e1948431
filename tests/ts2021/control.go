// SPDX-License-Identifier: MIT

// Command control is an independent TS2021 control-plane test server
// (Tailscale's control/controlhttp, control/ts2021): the /key fetch, the HTTP upgrade that
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
//	        [-interactive] [-approve-routes] [-key-expiry D] [-keepalive D]
//	        [-map-script FILE]
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
//     /echo, /status/NNN, /big?n=N, /rst, /slow, and a small tailnet:
//     POST /machine/register and /machine/map (see handleRegister,
//     handleMap; prints "REGISTER <nodekey> <hostname>", "map-stream N
//     opened|closed", "lite-update N"); every other path answers 200
//     "hello from ts2021 test server\n".
//   - GET /auth/<id> approves an interactive registration; GET /debug/nodes
//     and POST /debug/expire?node=N observe and poke the tailnet; POST
//     /debug/ping?node=N&noise=1&type=T sends a PingRequest on N's map stream
//     and GET /debug/pings shows what came back (handleDebugPing).
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
//
// Map client: control -role mapclient -url URL registers a node and prints
// each map message ("MAP <json>"); see runMapClient. README.md documents
// everything above in detail.
package main

import (
	"bufio"
	"bytes"
	"context"
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
	"net/netip"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flynn/noise"
	"github.com/klauspost/compress/zstd"
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
	{"noise-wrongtype", "101, then the response in a frame of type 04 (record) instead of 02"},
	{"noise-wronglen", "101, then a response frame of 49 bytes (header 02 0031)"},
	{"record-truncated", "101 + response + the first half of the early-payload record, then silence"},
	{"silence", "101 + response, then nothing; the connection stays open"},
	{"map-goaway", "first map stream: full map, then GOAWAY (NO_ERROR), the stream ends 1 s later"},
	{"map-rst", "first map stream: full map, then RST_STREAM INTERNAL_ERROR"},
	{"map-500", "first map request: HTTP 500, no map"},
	{"map-len-over-cap", "first map stream: full map, then a length prefix of 16 MiB + 1, then silence"},
	{"map-zstd-bomb", "first map stream: full map, then a zstd frame of 1 GiB (JSON-ish prefix, 'x' filler), no content size"},
	{"map-zstd-bomb-declared", "first map stream: full map, then the same 1 GiB zstd frame declaring its content size"},
	{"map-zstd-truncated", "first map stream: full map, then the first half of a zstd frame as a message, then a keep-alive"},
	{"map-depth-bomb", "first map stream: full map, then JSON nested 100000 deep (zstd as asked)"},
	{"map-no-node", "first map stream: a full map without Node, then silence"},
	{"map-patch-unknown", "first map stream: full map, then PeersChangedPatch for node 999999"},
	{"map-remove-unknown", "first map stream: full map, then PeersRemoved [999999]"},
	{"map-silence", "first map stream: full map, then nothing (no keep-alives) for 130 s"},
	{"json-comment-key", "/key answers 200 application/json: /*\"*/ then 65431 [ (64 KiB - 100 bytes)"},
	{"json-comment-early", "early payload /*\"*/ then 300000 [, then HTTP/2"},
	{"json-comment-register", "RegisterResponse body /*\"*/ then 262039 [ (256 KiB - 100 bytes; the node is registered all the same)"},
	{"json-comment-map", "first map stream: its first message is /*\"*/ then 300000 [ (zstd as asked), then silence"},
	{"addr-wide", "first map stream: full map giving the node 10.200.0.1/16 + fd00:200::1/64, every peer 0.0.0.0/0 + ::/0, and a new peer"},
}

// commentDepth is how deep json-comment-* nest: a quote inside a comment
// makes a depth guard that tracks strings but not comments (json-glib
// accepts comments) believe all the brackets are inside a string. The /key
// answer and the RegisterResponse nest less, to fit our client's caps on
// those bodies (64 KiB, 256 KiB), so that the text reaches its JSON checks.
const (
	commentDepth         = 300000
	keyCommentDepth      = 64<<10 - 5 - 100
	registerCommentDepth = 256<<10 - 5 - 100
)

func commentNesting(depth int) []byte {
	return append([]byte(`/*"*/`), bytes.Repeat([]byte("["), depth)...)
}

// mapAffecting: modes that act on a map stream (the first one, or every one
// once switched on by POST /debug/hostile).
func mapAffecting(m string) bool {
	return isMapMode(m) || m == "json-comment-map" || m == "addr-wide"
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
	static        noise.DHKey
	minVersion    int
	early         bool
	modeMu        sync.Mutex // guards hostile and hostileLive
	hostile       string
	hostileLive   bool            // set by POST /debug/hostile: map modes act on every stream
	authKey       string          // the pre-auth key /machine/register accepts
	authError     string          // RegisterResponse.Error for a wrong auth key
	interactive   bool            // ignore auth keys: every new machine gets an AuthURL
	approveRoutes bool            // approve every Hostinfo.RoutableIPs
	keyExpiry     time.Duration   // node key lifetime, 0 = never
	machineAuth   bool            // new machines wait for POST /debug/authorize
	keepAlive     time.Duration   // map stream keep-alive period
	script        []scriptStep    // -map-script: played on the first map stream
	derpMap       json.RawMessage // -derp-map: sent in every full map (nil: none)
	baseURL       string          // http://<listen address>, for AuthURLs
	widePeer      []byte          // addr-wide's extra peer: its node public key
	net           tailnet
	pingMu        sync.Mutex    // guards pings
	pings         []*pingRecord // POST /debug/ping, in ID order (ID = index+1)
}

// h2conn is one Noise connection's HTTP/2 server; its http.Server exists
// only so that Shutdown can make x/net/http2 send a graceful GOAWAY
// (http2.ConfigureServer registers the conn-wide shutdown hook).
type h2conn struct {
	hs *http.Server
}

// mode is the hostile mode now, and whether POST /debug/hostile set it.
func (s *server) mode() (string, bool) {
	s.modeMu.Lock()
	defer s.modeMu.Unlock()
	return s.hostile, s.hostileLive
}

// served prints "HOSTILE <mode> <client IP> <node ID or ->" on stdout once a
// hostile payload was written to that client.
func (s *server) served(mode, remote string, mk *machineKey) {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	node := "-"
	if mk != nil {
		s.net.mu.Lock()
		if n := s.net.byMachine[*mk]; n != nil {
			node = strconv.FormatInt(n.id, 10)
		}
		s.net.mu.Unlock()
	}
	say("HOSTILE %s %s %s", mode, host, node)
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
	mode, _ := s.mode()
	switch mode {
	case "json-comment-key":
		w.Header().Set("Content-Type", "application/json")
		if _, err := w.Write(commentNesting(keyCommentDepth)); err == nil {
			s.served(mode, r.RemoteAddr, nil)
		}
		return
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
	mode, _ := s.mode()
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
	if mode == "upgrade-200" {
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

	if mode == "upgrade-close" {
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
	if mode == "noise-error" {
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
	if mode == "noise-badtag" {
		resp[len(resp)-1] ^= 0x01
	}
	out := []byte(switching)
	if mode == "upgrade-wrong" {
		out = []byte(switchingWS)
	}
	switch mode {
	case "noise-wrongtype":
		out = append(out, msgRecord, 0, respPayloadLen)
	case "noise-wronglen":
		out = append(out, msgResponse, 0, respPayloadLen+1)
		resp = append(resp, 0)
	default:
		out = append(out, msgResponse, 0, respPayloadLen)
	}
	out = append(out, resp...)
	t := &transport{conn: conn, rd: rd, rx: aeadOf(csI2R), tx: aeadOf(csR2I)}

	switch mode {
	case "noise-wrongtype", "noise-wronglen":
		conn.Write(out)
		logf("hostile %s: sent a bad response frame", mode)
		finish(conn, rd)
		return
	case "record-truncated":
		rec := t.sealRecord(earlyPayload(""))
		conn.Write(append(out, rec[:len(rec)/2]...))
		say("PEER %s", hex.EncodeToString(hs.PeerStatic()))
		logf("hostile record-truncated: sent %d of a %d-byte record, now silent", len(rec)/2, len(rec))
		drain(rd)
		conn.Close()
		return
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
	// The early-* modes are about the early payload, so they always send one.
	if s.early || strings.HasPrefix(mode, "early-") || mode == "json-comment-early" {
		ep := earlyPayload(mode)
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
	var mk machineKey
	copy(mk[:], hs.PeerStatic())
	if mode == "json-comment-early" {
		s.served(mode, r.RemoteAddr, &mk)
	}

	nc := &noiseConn{t: t, conn: conn}
	c := &h2conn{hs: &http.Server{}}
	h2s := &http2.Server{}
	if err := http2.ConfigureServer(c.hs, h2s); err != nil {
		fatalf("http2: %v", err)
	}
	h2s.ServeConn(nc, &http2.ServeConnOpts{BaseConfig: c.hs, Handler: http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) { s.serveH2(w, r, mk, c) })})
	nc.Close()
	logf("noise connection from %s ended", r.RemoteAddr)
}

// serveH2 answers the HTTP/2 requests made over the records of machine mk's
// connection c: /echo (POST: 200 with the request body), /status/NNN (that
// status, a short body), /big?n=N (N bytes of 'x'), /rst (RST_STREAM via
// http.ErrAbortHandler), /slow (answers only when the request is cancelled
// or reset); any other path 200 helloBody. POST /machine/register and
// /machine/map: see handleRegister and handleMap.
func (s *server) serveH2(w http.ResponseWriter, r *http.Request, mk machineKey, c *h2conn) {
	logf("h2 %s %s", r.Method, r.URL.RequestURI())
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	switch p := r.URL.Path; {
	case p == "/machine/register":
		s.handleRegister(w, r, mk)
		return
	case p == "/machine/map":
		s.handleMap(w, r, mk, c)
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
	case strings.HasPrefix(p, "/ping/"):
		s.answerPing(w, r, true)
		return
	}
	io.Copy(io.Discard, r.Body)
	io.WriteString(w, helloBody)
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
	case "json-comment-early":
		body = commentNesting(commentDepth)
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

func runServer(s *server, listen, keyHex string) {
	s.static = keypair(keyHex, "key")
	s.net = tailnet{nodes: map[int64]*tnode{}, byMachine: map[machineKey]*tnode{}, auths: map[string]*pendingAuth{}}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		fatalf("listen: %v", err)
	}
	s.baseURL = "http://" + ln.Addr().String()
	s.widePeer = keypair("", "addr-wide peer key").Public
	mux := http.NewServeMux()
	mux.HandleFunc("/key", s.handleKey)
	mux.HandleFunc("/ts2021", s.handleUpgrade)
	mux.HandleFunc("/auth/", s.handleAuth)
	mux.HandleFunc("/debug/nodes", s.handleDebugNodes)
	mux.HandleFunc("/debug/expire", s.handleDebugExpire)
	mux.HandleFunc("/debug/authorize", s.handleDebugAuthorize)
	mux.HandleFunc("/debug/hostile", s.handleDebugHostile)
	mux.HandleFunc("/debug/ping", s.handleDebugPing)
	mux.HandleFunc("/debug/pings", s.handleDebugPings)
	mux.HandleFunc("/ping/", func(w http.ResponseWriter, r *http.Request) { s.answerPing(w, r, false) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: drainTimeout}
	say("LISTEN %s", ln.Addr())
	say("PUB %s", hex.EncodeToString(s.static.Public))
	if m, _ := s.mode(); m != "" {
		logf("hostile mode %s", m)
	}
	fatalf("serve: %v", srv.Serve(ln))
}

// ---- tailcfg mirrors -----------------------------------------------------
//
// Go structs with tailcfg's field names and JSON types (as in
// tailcfg/tailcfg.go), so that encoding/json judges what our C
// client sends as a Go control server would: a wrong type or a bad key text is
// a decode error, answered with HTTP 400 and Go's error text. Unknown fields
// are ignored, as Go does.

// parseKeyText parses "<prefix><64 lowercase or uppercase hex>" with the error
// texts of Tailscale's key parser (types/key/util.go parseHex).
func parseKeyText(out *[32]byte, b []byte, prefix string) error {
	if !bytes.HasPrefix(b, []byte(prefix)) {
		return fmt.Errorf("key hex string doesn't have expected type prefix %s", prefix)
	}
	b = b[len(prefix):]
	if len(b) != 64 {
		return fmt.Errorf("key hex has the wrong size, got %d want %d", len(b), 64)
	}
	if _, err := hex.Decode(out[:], b); err != nil {
		return errors.New("invalid hex character in key")
	}
	return nil
}

type nodeKey [32]byte
type discoKey [32]byte
type machineKey [32]byte
type nlKey [32]byte

func (k nodeKey) MarshalText() ([]byte, error) {
	return []byte("nodekey:" + hex.EncodeToString(k[:])), nil
}
func (k *nodeKey) UnmarshalText(b []byte) error { return parseKeyText((*[32]byte)(k), b, "nodekey:") }
func (k nodeKey) String() string                { t, _ := k.MarshalText(); return string(t) }
func (k nodeKey) isZero() bool                  { return k == nodeKey{} }
func (k discoKey) MarshalText() ([]byte, error) {
	return []byte("discokey:" + hex.EncodeToString(k[:])), nil
}
func (k *discoKey) UnmarshalText(b []byte) error { return parseKeyText((*[32]byte)(k), b, "discokey:") }
func (k machineKey) MarshalText() ([]byte, error) {
	return []byte("mkey:" + hex.EncodeToString(k[:])), nil
}
func (k *machineKey) UnmarshalText(b []byte) error { return parseKeyText((*[32]byte)(k), b, "mkey:") }
func (k nlKey) MarshalText() ([]byte, error)       { return []byte("nlpub:" + hex.EncodeToString(k[:])), nil }
func (k *nlKey) UnmarshalText(b []byte) error      { return parseKeyText((*[32]byte)(k), b, "nlpub:") }

// optBool is types/opt.Bool: JSON true, false or null ("" = unset).
type optBool string

func (b *optBool) UnmarshalJSON(j []byte) error {
	switch string(j) {
	case "true", "false":
		*b = optBool(j)
	case "null":
		*b = "unset"
	default:
		return fmt.Errorf("invalid opt.Bool value %q", j)
	}
	return nil
}

func (b optBool) MarshalJSON() ([]byte, error) {
	if b == "true" || b == "false" {
		return []byte(b), nil
	}
	return []byte("null"), nil
}

// Hostinfo mirrors tailcfg.Hostinfo (all fields but TPM).
type Hostinfo struct {
	IPNVersion      string         `json:",omitempty"`
	FrontendLogID   string         `json:",omitempty"`
	BackendLogID    string         `json:",omitempty"`
	OS              string         `json:",omitempty"`
	OSVersion       string         `json:",omitempty"`
	Container       optBool        `json:",omitempty"`
	Env             string         `json:",omitempty"`
	Distro          string         `json:",omitempty"`
	DistroVersion   string         `json:",omitempty"`
	DistroCodeName  string         `json:",omitempty"`
	App             string         `json:",omitempty"`
	Desktop         optBool        `json:",omitempty"`
	Package         string         `json:",omitempty"`
	DeviceModel     string         `json:",omitempty"`
	PushDeviceToken string         `json:",omitempty"`
	Hostname        string         `json:",omitempty"`
	ShieldsUp       bool           `json:",omitempty"`
	ShareeNode      bool           `json:",omitempty"`
	NoLogsNoSupport bool           `json:",omitempty"`
	RemoteConfig    bool           `json:",omitempty"`
	WireIngress     bool           `json:",omitempty"`
	IngressEnabled  bool           `json:",omitempty"`
	AllowsUpdate    bool           `json:",omitempty"`
	Machine         string         `json:",omitempty"`
	GoArch          string         `json:",omitempty"`
	GoArchVar       string         `json:",omitempty"`
	GoVersion       string         `json:",omitempty"`
	RoutableIPs     []netip.Prefix `json:",omitempty"`
	RequestTags     []string       `json:",omitempty"`
	WoLMACs         []string       `json:",omitempty"`
	Services        []Service      `json:",omitempty"`
	NetInfo         *NetInfo       `json:",omitempty"`
	SSH_HostKeys    []string       `json:"sshHostKeys,omitempty"`
	Cloud           string         `json:",omitempty"`
	Userspace       optBool        `json:",omitempty"`
	UserspaceRouter optBool        `json:",omitempty"`
	AppConnector    optBool        `json:",omitempty"`
	ServicesHash    string         `json:",omitempty"`
	PeerRelay       bool           `json:",omitempty"`
	ExitNodeID      string         `json:",omitempty"`
	Location        *Location      `json:",omitempty"`
	StateEncrypted  optBool        `json:",omitempty"`
}

type Service struct {
	Proto       string
	Port        uint16
	Description string `json:",omitempty"`
}

type NetInfo struct {
	MappingVariesByDestIP optBool            `json:",omitempty"`
	WorkingIPv6           optBool            `json:",omitempty"`
	OSHasIPv6             optBool            `json:",omitempty"`
	WorkingUDP            optBool            `json:",omitempty"`
	WorkingICMPv4         optBool            `json:",omitempty"`
	HavePortMap           bool               `json:",omitempty"`
	UPnP                  optBool            `json:",omitempty"`
	PMP                   optBool            `json:",omitempty"`
	PCP                   optBool            `json:",omitempty"`
	PreferredDERP         int                `json:",omitempty"`
	LinkType              string             `json:",omitempty"`
	DERPLatency           map[string]float64 `json:",omitempty"`
	FirewallMode          string             `json:",omitempty"`
}

type Location struct {
	Country     string  `json:",omitempty"`
	CountryCode string  `json:",omitempty"`
	City        string  `json:",omitempty"`
	CityCode    string  `json:",omitempty"`
	Latitude    float64 `json:",omitempty"`
	Longitude   float64 `json:",omitempty"`
	Priority    int     `json:",omitempty"`
}

// RegisterRequest mirrors tailcfg.RegisterRequest.
type RegisterRequest struct {
	Version    int
	NodeKey    nodeKey
	OldNodeKey nodeKey
	NLKey      nlKey
	Auth       *struct {
		Oauth2Token *json.RawMessage `json:",omitempty"`
		AuthKey     string           `json:",omitempty"`
	} `json:",omitempty"`
	Expiry           time.Time
	Followup         string
	Hostinfo         *Hostinfo
	Ephemeral        bool       `json:",omitempty"`
	NodeKeySignature []byte     `json:",omitempty"`
	SignatureType    int        `json:",omitempty"`
	Timestamp        *time.Time `json:",omitempty"`
	DeviceCert       []byte     `json:",omitempty"`
	Signature        []byte     `json:",omitempty"`
	Tailnet          string     `json:",omitempty"`
}

type registerUser struct {
	ID          int64
	DisplayName string
}

type registerLogin struct {
	ID          int64
	Provider    string
	LoginName   string
	DisplayName string
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

// MapRequest mirrors tailcfg.MapRequest (without the hardware attestation
// fields).
type MapRequest struct {
	Version          int
	Compress         string `json:",omitempty"`
	KeepAlive        bool   `json:",omitempty"`
	NodeKey          nodeKey
	DiscoKey         discoKey
	Stream           bool             `json:",omitempty"`
	Hostinfo         *Hostinfo        `json:",omitempty"`
	MapSessionHandle string           `json:",omitempty"`
	MapSessionSeq    int64            `json:",omitempty"`
	Endpoints        []netip.AddrPort `json:",omitempty"`
	EndpointTypes    []int            `json:",omitempty"`
	TKAHead          string           `json:",omitempty"`
	ReadOnly         bool             `json:",omitempty"`
	OmitPeers        bool             `json:",omitempty"`
	DebugFlags       []string         `json:",omitempty"`
}

// Node is the part of tailcfg.Node this server sends.
type Node struct {
	ID                int64
	StableID          string
	Name              string
	User              int64
	Key               nodeKey
	KeyExpiry         *time.Time `json:",omitempty"`
	Machine           machineKey
	DiscoKey          *discoKey `json:",omitempty"`
	Addresses         []netip.Prefix
	AllowedIPs        []netip.Prefix
	Endpoints         []netip.AddrPort `json:",omitempty"`
	HomeDERP          int              `json:",omitempty"`
	Hostinfo          *Hostinfo        `json:",omitempty"`
	Created           time.Time
	Cap               int            `json:",omitempty"`
	PrimaryRoutes     []netip.Prefix `json:",omitempty"`
	Online            *bool          `json:",omitempty"`
	MachineAuthorized bool           `json:",omitempty"`
	Expired           bool           `json:",omitempty"`
}

// PeerChange mirrors tailcfg.PeerChange (the fields this server patches).
type PeerChange struct {
	NodeID    int64
	DiscoKey  *discoKey        `json:",omitempty"`
	Endpoints []netip.AddrPort `json:",omitempty"`
	Key       *nodeKey         `json:",omitempty"`
	Online    *bool            `json:",omitempty"`
	KeyExpiry *time.Time       `json:",omitempty"`
}

type PortRange struct{ First, Last uint16 }

type NetPortRange struct {
	IP    string
	Ports PortRange
}

type FilterRule struct {
	SrcIPs   []string
	DstPorts []NetPortRange `json:",omitempty"`
}

type DNSConfig struct {
	Domains []string `json:",omitempty"`
	Proxied bool     `json:",omitempty"`
}

type UserProfile struct {
	ID          int64
	LoginName   string
	DisplayName string
}

// MapResponse mirrors the tailcfg.MapResponse fields this server sends.
type MapResponse struct {
	KeepAlive         bool            `json:",omitempty"`
	Node              *Node           `json:",omitempty"`
	Peers             []*Node         `json:",omitempty"`
	PeersChanged      []*Node         `json:",omitempty"`
	PeersRemoved      []int64         `json:",omitempty"`
	PeersChangedPatch []*PeerChange   `json:",omitempty"`
	OnlineChange      map[int64]bool  `json:",omitempty"`
	DNSConfig         *DNSConfig      `json:",omitempty"`
	Domain            string          `json:",omitempty"`
	CollectServices   optBool         `json:",omitempty"`
	PacketFilter      []FilterRule    `json:",omitempty"`
	UserProfiles      []UserProfile   `json:",omitempty"`
	ControlTime       *time.Time      `json:",omitempty"`
	PingRequest       *PingRequest    `json:",omitempty"`
	DERPMap           json.RawMessage `json:",omitempty"`
}

// PingRequest is tailcfg.PingRequest (the fields we send).
type PingRequest struct {
	URL        string
	URLIsNoise bool   `json:",omitempty"`
	Log        bool   `json:",omitempty"`
	Types      string `json:",omitempty"`
	Payload    []byte `json:",omitempty"`
}

// ---- tailnet: nodes, registration, map streams -------------------------------

const (
	tailnetDomain   = "hyphae.test"
	testLoginName   = "tester@hyphae.test"
	testDisplayName = "Test User"
	userID          = 1
	followupWait    = 60 * time.Second
	replaceWait     = 5 * time.Second
	silenceHold     = 130 * time.Second
	unknownNodeID   = 999999
	mapLenOverCap   = 16<<20 + 1
	zstdBombSize    = 1 << 30
	depthBombDepth  = 100000
)

// tnode is one registered machine (keyed by machine key; its node key may
// rotate). Guarded by tailnet.mu.
type tnode struct {
	id        int64
	machine   machineKey
	key       nodeKey
	retired   map[nodeKey]bool // earlier node keys: a map request with one gets 401
	disco     discoKey
	hostinfo  *Hostinfo
	endpoints []netip.AddrPort
	epTypes   []int
	created   time.Time
	expiry    time.Time // zero: never
	last      MapRequest
	mapCount  int
	stream    *mapStream // the live map stream, if any
	expTimer  *time.Timer
	// authorized is MachineAuthorized: false (with -machine-auth) until
	// POST /debug/authorize. An unauthorized node sees no peers and is no
	// one's peer.
	authorized bool
}

// mapStream is one live Stream:true map request; others push JSON messages
// into its queue.
type mapStream struct {
	node     *tnode
	queue    [][]byte
	wake     chan struct{} // capacity 1: "the queue is not empty"
	replaced chan struct{} // closed by end(): a newer stream, a logout or a mode switch
	endOnce  sync.Once
	done     chan struct{} // closed when the handler has finished
}

// end makes the stream's handler finish (cleanly: END_STREAM).
func (st *mapStream) end() { st.endOnce.Do(func() { close(st.replaced) }) }

type pendingAuth struct {
	approved chan struct{}
	once     sync.Once
}

type tailnet struct {
	mu         sync.Mutex
	nodes      map[int64]*tnode
	byMachine  map[machineKey]*tnode
	nextID     int64
	auths      map[string]*pendingAuth
	mapStreams int // Stream:true requests so far; map hostile modes apply to the first
}

func (s *server) expired(n *tnode) bool {
	return !n.expiry.IsZero() && !time.Now().Before(n.expiry)
}

// addresses: 100.64.0.N/32 and fd7a:115c:a1e0::N/128 (N up to 65535).
func (s *server) addresses(n *tnode) []netip.Prefix {
	hi, lo := byte(n.id>>8), byte(n.id)
	v4 := netip.AddrFrom4([4]byte{100, 64, hi, lo})
	var a16 [16]byte
	copy(a16[:], []byte{0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0})
	a16[14], a16[15] = hi, lo
	return []netip.Prefix{netip.PrefixFrom(v4, 32), netip.PrefixFrom(netip.AddrFrom16(a16), 128)}
}

// routes: the Hostinfo.RoutableIPs this server approved (all of them with
// -approve-routes, none otherwise).
func (s *server) routes(n *tnode) []netip.Prefix {
	if !s.approveRoutes || n.hostinfo == nil {
		return nil
	}
	return append([]netip.Prefix(nil), n.hostinfo.RoutableIPs...)
}

// view is n as a tailcfg.Node; online says whether to set Online (peers).
func (s *server) view(n *tnode, online bool) *Node {
	host := ""
	osName := ""
	if n.hostinfo != nil {
		host, osName = n.hostinfo.Hostname, n.hostinfo.OS
	}
	name := host
	if name == "" {
		name = fmt.Sprintf("node-%d", n.id)
	}
	addrs := s.addresses(n)
	routes := s.routes(n)
	v := &Node{
		ID:                n.id,
		StableID:          fmt.Sprintf("stable-%d", n.id),
		Name:              name + "." + tailnetDomain + ".",
		User:              userID,
		Key:               n.key,
		Machine:           n.machine,
		Addresses:         addrs,
		AllowedIPs:        append(append([]netip.Prefix(nil), addrs...), routes...),
		Endpoints:         n.endpoints,
		Hostinfo:          &Hostinfo{Hostname: host, OS: osName},
		HomeDERP:          homeDERP(n.hostinfo),
		Created:           n.created,
		Cap:               n.last.Version,
		MachineAuthorized: n.authorized,
		Expired:           s.expired(n),
	}
	for _, r := range routes {
		if r.Bits() != 0 {
			v.PrimaryRoutes = append(v.PrimaryRoutes, r)
		}
	}
	if !n.expiry.IsZero() {
		t := n.expiry
		v.KeyExpiry = &t
	}
	if n.disco != (discoKey{}) {
		d := n.disco
		v.DiscoKey = &d
	}
	if online {
		on := n.stream != nil
		v.Online = &on
	}
	return v
}

// homeDERP is the region a node calls home: its NetInfo.PreferredDERP, as
// Tailscale's control fills tailcfg.Node.HomeDERP (tailcfg/tailcfg.go).
func homeDERP(h *Hostinfo) int {
	if h == nil || h.NetInfo == nil {
		return 0
	}
	return h.NetInfo.PreferredDERP
}

// shape is what makes a PeersChanged (rather than a patch) necessary: the
// peer view without its endpoints, disco key and online state.
func (s *server) shape(n *tnode) string {
	v := s.view(n, false)
	v.Endpoints, v.DiscoKey = nil, nil
	b, _ := json.Marshal(v)
	return string(b)
}

func (s *server) sortedNodes() []*tnode {
	var out []*tnode
	for _, n := range s.net.nodes {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

var allowAll = []FilterRule{{SrcIPs: []string{"*"}, DstPorts: []NetPortRange{{IP: "*", Ports: PortRange{0, 65535}}}}}

// fullMap is the first message of a stream for n. Like Tailscale's control
// (ipn/ipnlocal/local.go turns a self Node without MachineAuthorized into
// NeedsMachineAuth), an unauthorized node gets a map of itself only.
func (s *server) fullMap(n *tnode) *MapResponse {
	now := time.Now().UTC()
	m := &MapResponse{
		Node:            s.view(n, false),
		Domain:          tailnetDomain,
		UserProfiles:    []UserProfile{{ID: userID, LoginName: testLoginName, DisplayName: testDisplayName}},
		PacketFilter:    allowAll,
		DNSConfig:       &DNSConfig{Proxied: true, Domains: []string{tailnetDomain}},
		CollectServices: "true",
		ControlTime:     &now,
		DERPMap:         s.derpMap,
	}
	if !n.authorized {
		return m
	}
	m.Peers = s.authorizedPeers(n)
	return m
}

// authorizedPeers is every authorized node but n, sorted by ID, as peers.
func (s *server) authorizedPeers(n *tnode) []*Node {
	var out []*Node
	for _, p := range s.sortedNodes() {
		if p != n && p.authorized {
			out = append(out, s.view(p, true))
		}
	}
	return out
}

func mustJSON(v interface{}) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		fatalf("json: %v", err)
	}
	return b
}

// push queues a message for every live stream but the one of except (and
// those of unauthorized nodes, which have no peers).
func (s *server) push(except *tnode, m *MapResponse) {
	b := mustJSON(m)
	for _, n := range s.net.nodes {
		if n != except && n.stream != nil && n.authorized {
			n.stream.enqueue(b)
		}
	}
}

func (st *mapStream) enqueue(b []byte) {
	st.queue = append(st.queue, b)
	select {
	case st.wake <- struct{}{}:
	default:
	}
}

// changed pushes to the other nodes what differs between before (n's shape,
// endpoints, disco key and online state before a change) and now: a
// PeersChanged with the whole node if its shape changed, else a
// PeersChangedPatch with the endpoints, disco key and online state that
// changed (and OnlineChange when it went on- or offline).
func (s *server) changed(n *tnode, shape string, eps []netip.AddrPort, disco discoKey, online bool) {
	if !n.authorized {
		return // no one's peer yet
	}
	if s.shape(n) != shape {
		s.push(n, &MapResponse{PeersChanged: []*Node{s.view(n, true)}})
		return
	}
	pc := &PeerChange{NodeID: n.id}
	patched := false
	if !equalAddrPorts(eps, n.endpoints) {
		pc.Endpoints, patched = n.endpoints, true
	}
	if disco != n.disco {
		d := n.disco
		pc.DiscoKey, patched = &d, true
	}
	m := &MapResponse{}
	if now := n.stream != nil; now != online {
		pc.Online, patched = &now, true
		m.OnlineChange = map[int64]bool{n.id: now}
	}
	if patched {
		m.PeersChangedPatch = []*PeerChange{pc}
		s.push(n, m)
	}
}

func equalAddrPorts(a, b []netip.AddrPort) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ---- registration ------------------------------------------------------------

func (s *server) registered(n *tnode) registerResponse {
	authorized := n.authorized
	return registerResponse{
		MachineAuthorized: &authorized,
		User:              &registerUser{ID: userID, DisplayName: testDisplayName},
		Login:             &registerLogin{ID: userID, Provider: "hyphae-test", LoginName: "test@example.com", DisplayName: testDisplayName},
	}
}

// handleRegister answers POST /machine/register (tailcfg.RegisterRequest) for the
// machine mk; see README.md for the rules.
func (s *server) handleRegister(w http.ResponseWriter, r *http.Request, mk machineKey) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	var req RegisterRequest
	if err := decodeBody(r, &req); err != nil {
		logf("h2 /machine/register: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	host := ""
	if req.Hostinfo != nil {
		host = req.Hostinfo.Hostname
	}
	say("REGISTER %s %s", req.NodeKey, host)
	if req.NodeKey.isZero() {
		http.Error(w, "bad NodeKey", http.StatusBadRequest)
		return
	}
	resp, code, text := s.register(r.Context(), mk, &req)
	if code != 0 {
		http.Error(w, text, code)
		return
	}
	if resp == nil {
		return // the client went away
	}
	w.Header().Set("Content-Type", "application/json")
	if mode, _ := s.mode(); mode == "json-comment-register" {
		if _, err := w.Write(commentNesting(registerCommentDepth)); err == nil {
			s.served(mode, r.RemoteAddr, &mk)
		}
		return
	}
	w.Write(mustJSON(resp))
}

// decodeBody unmarshals the whole request body (at most 1 MiB, as headscale
// reads) with encoding/json, so trailing bytes are an error too.
func decodeBody(r *http.Request, v interface{}) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func (s *server) register(ctx context.Context, mk machineKey, req *RegisterRequest) (*registerResponse, int, string) {
	now := time.Now()
	if !req.Expiry.IsZero() && req.Expiry.Before(now) {
		s.logout(mk)
		no := false
		return &registerResponse{NodeKeyExpired: true, MachineAuthorized: &no}, 0, ""
	}
	if req.Followup != "" {
		s.net.mu.Lock()
		pa := s.net.auths[authID(req.Followup)]
		s.net.mu.Unlock()
		if pa == nil {
			return nil, http.StatusBadRequest, "unknown Followup URL"
		}
		select {
		case <-pa.approved:
		case <-ctx.Done():
			return nil, 0, ""
		case <-time.After(followupWait):
			return &registerResponse{AuthURL: req.Followup}, 0, ""
		}
		resp := s.admit(mk, req)
		return &resp, 0, ""
	}
	authKey := ""
	if req.Auth != nil {
		authKey = req.Auth.AuthKey
	}
	if !s.interactive && authKey != "" && authKey != s.authKey {
		return &registerResponse{Error: s.authError}, 0, ""
	}
	s.net.mu.Lock()
	n := s.net.byMachine[mk]
	switch {
	case n != nil && n.key == req.NodeKey && s.expired(n):
		s.net.mu.Unlock()
		return &registerResponse{NodeKeyExpired: true}, 0, ""
	case n != nil && n.key == req.NodeKey,
		n != nil && !req.OldNodeKey.isZero() && req.OldNodeKey == n.key && !s.expired(n),
		!s.interactive && authKey != "":
		s.net.mu.Unlock()
		resp := s.admit(mk, req)
		return &resp, 0, ""
	}
	// Interactive: a URL on the plain HTTP listener approves it.
	var rnd [8]byte
	io.ReadFull(rand.Reader, rnd[:])
	id := hex.EncodeToString(rnd[:])
	s.net.auths[id] = &pendingAuth{approved: make(chan struct{})}
	s.net.mu.Unlock()
	return &registerResponse{AuthURL: s.baseURL + "/auth/" + id}, 0, ""
}

// authID is the <id> of "<anything>/auth/<id>".
func authID(u string) string {
	i := strings.LastIndex(u, "/auth/")
	if i < 0 {
		return ""
	}
	return u[i+len("/auth/"):]
}

// admit registers req.NodeKey for machine mk: a new node, or the machine's
// node with a new key, Hostinfo and expiry; the others learn of it.
func (s *server) admit(mk machineKey, req *RegisterRequest) registerResponse {
	s.net.mu.Lock()
	defer s.net.mu.Unlock()
	n := s.net.byMachine[mk]
	shape, eps, disco, online := "", []netip.AddrPort(nil), discoKey{}, false
	if n == nil {
		s.net.nextID++
		n = &tnode{id: s.net.nextID, machine: mk, created: time.Now().UTC().Truncate(time.Second),
			retired: map[nodeKey]bool{}, authorized: !s.machineAuth}
		s.net.nodes[n.id] = n
		s.net.byMachine[mk] = n
	} else {
		shape, eps, disco, online = s.shape(n), n.endpoints, n.disco, n.stream != nil
		if n.key != req.NodeKey {
			n.retired[n.key] = true
			delete(n.retired, req.NodeKey)
		}
	}
	n.key = req.NodeKey
	if req.Hostinfo != nil {
		h := *req.Hostinfo
		n.hostinfo = &h
	}
	n.expiry = time.Time{}
	if s.keyExpiry > 0 {
		n.expiry = time.Now().Add(s.keyExpiry).UTC().Truncate(time.Second)
	}
	s.armExpiry(n)
	logf("node %d (%s) registered with %s", n.id, s.view(n, false).Name, n.key)
	s.changed(n, shape, eps, disco, online)
	return s.registered(n)
}

// armExpiry tells the peers when n's key expires by itself.
func (s *server) armExpiry(n *tnode) {
	if n.expTimer != nil {
		n.expTimer.Stop()
		n.expTimer = nil
	}
	if n.expiry.IsZero() || !time.Now().Before(n.expiry) {
		return // never, or already announced by the caller
	}
	at := n.expiry
	n.expTimer = time.AfterFunc(time.Until(at)+10*time.Millisecond, func() {
		s.net.mu.Lock()
		defer s.net.mu.Unlock()
		if s.net.nodes[n.id] == n && n.expiry.Equal(at) {
			s.announceExpiry(n)
		}
	})
}

// announceExpiry pushes n (now expired) to its peers and to itself.
func (s *server) announceExpiry(n *tnode) {
	logf("node %d: key %s expired", n.id, n.key)
	if n.authorized {
		s.push(n, &MapResponse{PeersChanged: []*Node{s.view(n, true)}})
	}
	if n.stream != nil {
		n.stream.enqueue(mustJSON(&MapResponse{Node: s.view(n, false)}))
	}
}

// logout removes mk's node (if any): its stream ends, the others get
// PeersRemoved.
func (s *server) logout(mk machineKey) {
	s.net.mu.Lock()
	defer s.net.mu.Unlock()
	n := s.net.byMachine[mk]
	if n == nil {
		return
	}
	logf("node %d logged out", n.id)
	delete(s.net.byMachine, mk)
	delete(s.net.nodes, n.id)
	if n.expTimer != nil {
		n.expTimer.Stop()
	}
	if st := n.stream; st != nil {
		n.stream = nil
		st.end()
	}
	if n.authorized {
		s.push(n, &MapResponse{PeersRemoved: []int64{n.id}})
	}
}

// ---- the map ------------------------------------------------------------------

var zstdEnc = func() *zstd.Encoder {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(false))
	if err != nil {
		fatalf("zstd: %v", err)
	}
	return enc
}()

// frameMsg is one map message on the wire: u32 LE length ‖ payload, the
// payload being one zstd frame of msg when compress is set.
func frameMsg(msg []byte, compress bool) []byte {
	if compress {
		msg = zstdEnc.EncodeAll(msg, nil)
	}
	out := make([]byte, 4, 4+len(msg))
	binary.LittleEndian.PutUint32(out, uint32(len(msg)))
	return append(out, msg...)
}

// streamWriter writes to a map stream and flushes each write.
type streamWriter struct {
	w        http.ResponseWriter
	compress bool
}

func (sw *streamWriter) raw(b []byte) error {
	if _, err := sw.w.Write(b); err != nil {
		return err
	}
	sw.w.(http.Flusher).Flush()
	return nil
}

func (sw *streamWriter) msg(b []byte) error { return sw.raw(frameMsg(b, sw.compress)) }

func isMapMode(m string) bool { return strings.HasPrefix(m, "map-") }

// handleMap answers POST /machine/map (tailcfg.MapRequest, MapResponse) for machine mk.
func (s *server) handleMap(w http.ResponseWriter, r *http.Request, mk machineKey, c *h2conn) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	var req MapRequest
	if err := decodeBody(r, &req); err != nil {
		logf("h2 /machine/map: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.net.mu.Lock()
	n := s.net.byMachine[mk]
	code, text := 0, ""
	switch {
	case n == nil:
		code, text = http.StatusForbidden, "node not registered"
	case n.key != req.NodeKey && n.retired[req.NodeKey]:
		code, text = http.StatusUnauthorized, "node key was replaced"
	case n.key != req.NodeKey:
		code, text = http.StatusForbidden, "unknown node key"
	case s.expired(n):
		code, text = http.StatusUnauthorized, "node key expired"
	}
	if code != 0 {
		s.net.mu.Unlock()
		logf("h2 /machine/map: %d %s", code, text)
		http.Error(w, text, code)
		return
	}
	shape, eps, disco, online := s.shape(n), n.endpoints, n.disco, n.stream != nil
	n.mapCount++
	n.last = req
	n.last.Hostinfo = nil
	if req.DiscoKey != (discoKey{}) {
		n.disco = req.DiscoKey
	}
	if req.Endpoints != nil {
		n.endpoints = append([]netip.AddrPort(nil), req.Endpoints...)
		n.epTypes = append([]int(nil), req.EndpointTypes...)
	}
	if req.Hostinfo != nil {
		h := *req.Hostinfo
		n.hostinfo = &h
	}
	sw := &streamWriter{w: w, compress: req.Compress == "zstd"}
	if !req.Stream {
		s.changed(n, shape, eps, disco, online)
		full := mustJSON(s.fullMap(n))
		id := n.id
		s.net.mu.Unlock()
		if req.OmitPeers {
			say("lite-update %d", id)
			w.WriteHeader(http.StatusOK)
			return
		}
		sw.msg(full)
		return
	}
	s.net.mapStreams++
	hostile := ""
	script := s.script
	if mode, live := s.mode(); mapAffecting(mode) && (live || s.net.mapStreams == 1) {
		hostile = mode
	}
	if s.net.mapStreams != 1 {
		script = nil
	}
	if hostile == "map-500" {
		s.changed(n, shape, eps, disco, online)
		s.net.mu.Unlock()
		logf("hostile map-500: answering 500")
		http.Error(w, "hostile: internal server error", http.StatusInternalServerError)
		s.served(hostile, r.RemoteAddr, &mk)
		return
	}
	st := &mapStream{node: n, wake: make(chan struct{}, 1), replaced: make(chan struct{}), done: make(chan struct{})}
	old := n.stream
	n.stream = st
	s.net.mu.Unlock()
	if old != nil {
		old.end()
		select {
		case <-old.done:
		case <-time.After(replaceWait):
			logf("node %d: the replaced stream did not end in %v", n.id, replaceWait)
		}
	}

	s.net.mu.Lock()
	if n.stream != st {
		s.net.mu.Unlock()
		close(st.done) // logged out or replaced meanwhile
		return
	}
	s.changed(n, shape, eps, disco, online)
	first := s.fullMap(n)
	s.net.mu.Unlock()
	defer func() {
		s.net.mu.Lock()
		if n.stream == st {
			n.stream = nil
			s.changed(n, s.shape(n), n.endpoints, n.disco, true)
		}
		s.net.mu.Unlock()
		say("map-stream %d closed", n.id)
		close(st.done)
	}()
	ctx := r.Context()

	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	switch hostile {
	case "map-no-node":
		first.Node = nil
	case "addr-wide":
		s.widen(first)
	}
	firstMsg := mustJSON(first)
	if hostile == "json-comment-map" {
		firstMsg = commentNesting(commentDepth)
	}
	if err := sw.msg(firstMsg); err != nil {
		logf("node %d: writing the full map: %v", n.id, err)
		return
	}
	say("map-stream %d opened", n.id)

	if hostile != "" {
		logf("hostile %s on node %d's map stream", hostile, n.id)
		cont := s.mapHostile(hostile, sw, st, ctx, c, first, func() { s.served(hostile, r.RemoteAddr, &mk) })
		if !cont {
			return
		}
	}
	for _, step := range script {
		if !s.scriptStep(step, sw, st, ctx) {
			return
		}
	}

	tick := time.NewTicker(s.keepAlive)
	defer tick.Stop()
	keepAlive := mustJSON(&MapResponse{KeepAlive: true})
	for {
		select {
		case <-ctx.Done():
			return
		case <-st.replaced:
			return
		case <-tick.C:
			if err := sw.msg(keepAlive); err != nil {
				return
			}
		case <-st.wake:
			s.net.mu.Lock()
			q := st.queue
			st.queue = nil
			s.net.mu.Unlock()
			for _, m := range q {
				if err := sw.msg(m); err != nil {
					return
				}
			}
		}
	}
}

// Addresses addr-wide adds: the node gets a LAN-sized prefix that is no
// tailnet host address, each peer (none is an exit node here) the default
// routes; a new peer is the part of the map a client should apply.
var (
	wideSelf     = []netip.Prefix{netip.MustParsePrefix("10.200.0.1/16"), netip.MustParsePrefix("fd00:200::1/64")}
	widePeerAll  = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}
	widePeerAddr = []netip.Prefix{netip.MustParsePrefix("100.64.255.254/32"), netip.MustParsePrefix("fd7a:115c:a1e0::fffe/128")}
)

const (
	widePeerID   = 65534
	widePeerName = "addr-wide-peer"
)

// widen turns m (a full map) into addr-wide's.
func (s *server) widen(m *MapResponse) {
	if m.Node != nil {
		m.Node.Addresses = append(append([]netip.Prefix(nil), m.Node.Addresses...), wideSelf...)
	}
	for _, p := range m.Peers {
		p.Addresses = append(append([]netip.Prefix(nil), p.Addresses...), widePeerAll...)
	}
	var key nodeKey
	copy(key[:], s.widePeer)
	on := true
	m.Peers = append(m.Peers, &Node{
		ID: widePeerID, StableID: fmt.Sprintf("stable-%d", widePeerID), Name: widePeerName + "." + tailnetDomain + ".",
		User: userID, Key: key, Addresses: widePeerAddr, AllowedIPs: widePeerAddr,
		Hostinfo: &Hostinfo{Hostname: widePeerName, OS: "linux"}, Created: time.Now().UTC().Truncate(time.Second),
		MachineAuthorized: true, Online: &on,
	})
}

// hold waits until the client goes away or the stream is replaced (false),
// or d has passed (true).
func hold(ctx context.Context, st *mapStream, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-st.replaced:
		return false
	case <-t.C:
		return true
	}
}

const forever = 1000 * time.Hour

// mapHostile misbehaves on the first map stream after its first message;
// true: carry on as a normal stream.
// served is called once the hostile bytes were written.
func (s *server) mapHostile(mode string, sw *streamWriter, st *mapStream, ctx context.Context, c *h2conn, first *MapResponse,
	served func()) bool {
	switch mode {
	case "json-comment-map", "map-no-node":
		served()
		hold(ctx, st, forever)
		return false
	case "addr-wide":
		served()
		return true
	case "map-zstd-bomb", "map-zstd-bomb-declared":
		if sw.raw(zstdBomb(mode == "map-zstd-bomb-declared")) == nil {
			served()
		}
		hold(ctx, st, forever)
		return false
	case "map-goaway":
		// Graceful shutdown of this connection's http2 server: GOAWAY
		// NO_ERROR with the highest stream ID seen; the stream itself
		// ends a second later, then x/net closes the connection.
		go c.hs.Shutdown(context.Background())
		hold(ctx, st, time.Second)
		return false
	case "map-rst":
		panic(http.ErrAbortHandler)
	case "map-len-over-cap":
		var p [4]byte
		binary.LittleEndian.PutUint32(p[:], mapLenOverCap)
		sw.raw(p[:])
		hold(ctx, st, forever)
		return false
	case "map-zstd-truncated":
		f := zstdEnc.EncodeAll(mustJSON(first), nil)
		half := f[:len(f)/2]
		out := make([]byte, 4, 4+len(half))
		binary.LittleEndian.PutUint32(out, uint32(len(half)))
		if sw.raw(append(out, half...)) != nil {
			return false
		}
		return sw.msg(mustJSON(&MapResponse{KeepAlive: true})) == nil
	case "map-depth-bomb":
		b := append(bytes.Repeat([]byte("["), depthBombDepth), bytes.Repeat([]byte("]"), depthBombDepth)...)
		return sw.msg(b) == nil
	case "map-patch-unknown":
		on := true
		return sw.msg(mustJSON(&MapResponse{PeersChangedPatch: []*PeerChange{{NodeID: unknownNodeID,
			Endpoints: []netip.AddrPort{netip.MustParseAddrPort("192.0.2.1:41641")}, Online: &on}}})) == nil
	case "map-remove-unknown":
		return sw.msg(mustJSON(&MapResponse{PeersRemoved: []int64{unknownNodeID}})) == nil
	case "map-silence":
		return hold(ctx, st, silenceHold)
	}
	fatalf("map hostile mode %q not implemented", mode)
	return false
}

// zstdBomb: a length prefix and one zstd frame (RFC 8878) that decodes to
// zstdBombSize bytes: a raw block with a JSON-ish prefix, then RLE blocks of
// 128 KiB of 'x' (4 bytes each: 32 KiB in all). Window 8 MiB, no checksum;
// declare: the frame header carries the content size (8 bytes), else none
// (as a streaming encoder writes it). Made by hand: no encoder needs to
// produce 1 GiB first.
func zstdBomb(declare bool) []byte {
	const prefix = `{"Peers":[{"Name":"`
	const block = 128 << 10
	f := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x68} // magic, FHD, window 2^(10+13)
	if declare {
		f[4] = 0xc0 // Frame_Content_Size_flag 3: 8 bytes
		f = binary.LittleEndian.AppendUint64(f, zstdBombSize)
	}
	blockHeader := func(size, typ int, last bool) []byte {
		h := uint32(size)<<3 | uint32(typ)<<1
		if last {
			h |= 1
		}
		return []byte{byte(h), byte(h >> 8), byte(h >> 16)}
	}
	f = append(append(f, blockHeader(len(prefix), 0, false)...), prefix...)
	for left := zstdBombSize - len(prefix); left > 0; {
		n := block
		if left < n {
			n = left
		}
		left -= n
		f = append(append(f, blockHeader(n, 1, left == 0)...), 'x')
	}
	out := make([]byte, 4, 4+len(f))
	binary.LittleEndian.PutUint32(out, uint32(len(f)))
	return append(out, f...)
}

// scriptStep is one -map-script step: exactly one of Msg (sent as a map
// message, compressed as the client asked), RawB64 (bytes sent as they are)
// or SleepMs.
type scriptStep struct {
	Msg     json.RawMessage `json:"msg"`
	RawB64  *string         `json:"raw_b64"`
	SleepMs *int            `json:"sleep_ms"`
}

func loadScript(path string) []scriptStep {
	b, err := os.ReadFile(path)
	if err != nil {
		fatalf("-map-script: %v", err)
	}
	var steps []scriptStep
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&steps); err != nil {
		fatalf("-map-script %s: %v", path, err)
	}
	for i, st := range steps {
		n := 0
		if st.Msg != nil {
			n++
		}
		if st.RawB64 != nil {
			if _, err := base64.StdEncoding.DecodeString(*st.RawB64); err != nil {
				fatalf("-map-script %s: step %d: raw_b64: %v", path, i, err)
			}
			n++
		}
		if st.SleepMs != nil {
			n++
		}
		if n != 1 {
			fatalf("-map-script %s: step %d must have exactly one of msg, raw_b64, sleep_ms", path, i)
		}
	}
	return steps
}

func (s *server) scriptStep(step scriptStep, sw *streamWriter, st *mapStream, ctx context.Context) bool {
	switch {
	case step.Msg != nil:
		return sw.msg(step.Msg) == nil
	case step.RawB64 != nil:
		b, _ := base64.StdEncoding.DecodeString(*step.RawB64)
		return sw.raw(b) == nil
	default:
		return hold(ctx, st, time.Duration(*step.SleepMs)*time.Millisecond)
	}
}

// ---- the plain HTTP side: approvals and debug endpoints -----------------------

// handleAuth approves a pending interactive registration: GET /auth/<id>.
func (s *server) handleAuth(w http.ResponseWriter, r *http.Request) {
	logf("%s %s from %s", r.Method, r.URL.RequestURI(), r.RemoteAddr)
	s.net.mu.Lock()
	pa := s.net.auths[strings.TrimPrefix(r.URL.Path, "/auth/")]
	s.net.mu.Unlock()
	if pa == nil {
		http.NotFound(w, r)
		return
	}
	pa.once.Do(func() { close(pa.approved) })
	io.WriteString(w, "approved\n")
}

// debugNode is the server's view of a node for GET /debug/nodes, with the
// fields of its last MapRequest as Go decoded them.
type debugNode struct {
	ID            int64
	StableID      string
	Hostname      string
	MachineKey    machineKey
	NodeKey       nodeKey
	DiscoKey      discoKey
	Endpoints     []netip.AddrPort
	EndpointTypes []int
	Hostinfo      *Hostinfo
	Addresses     []netip.Prefix
	AllowedIPs    []netip.Prefix
	KeyExpiry     *time.Time
	Expired       bool
	Version       int
	Stream        bool
	KeepAlive     bool
	Compress      string
	OmitPeers     bool
	ReadOnly      bool
	DebugFlags    []string
	MapRequests   int
	Online        bool
	// MachineAuthorized is false until POST /debug/authorize (-machine-auth).
	MachineAuthorized bool
}

func (s *server) handleDebugNodes(w http.ResponseWriter, r *http.Request) {
	s.net.mu.Lock()
	out := []debugNode{}
	for _, n := range s.sortedNodes() {
		v := s.view(n, false)
		out = append(out, debugNode{
			ID: n.id, StableID: v.StableID, Hostname: v.Hostinfo.Hostname, MachineKey: n.machine,
			NodeKey: n.key, DiscoKey: n.disco, Endpoints: n.endpoints, EndpointTypes: n.epTypes,
			Hostinfo: n.hostinfo, Addresses: v.Addresses, AllowedIPs: v.AllowedIPs,
			KeyExpiry: v.KeyExpiry, Expired: v.Expired, Version: n.last.Version,
			Stream: n.last.Stream, KeepAlive: n.last.KeepAlive, Compress: n.last.Compress,
			OmitPeers: n.last.OmitPeers, ReadOnly: n.last.ReadOnly, DebugFlags: n.last.DebugFlags,
			MapRequests: n.mapCount, Online: n.stream != nil, MachineAuthorized: n.authorized,
		})
	}
	b := mustJSON(out)
	s.net.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(b, '\n'))
}

// handleDebugExpire: POST /debug/expire?node=N expires node N's key now.
func (s *server) handleDebugExpire(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	id, err := strconv.ParseInt(r.URL.Query().Get("node"), 10, 64)
	if err != nil {
		http.Error(w, "bad node parameter", http.StatusBadRequest)
		return
	}
	s.net.mu.Lock()
	defer s.net.mu.Unlock()
	n := s.net.nodes[id]
	if n == nil {
		http.Error(w, "no such node", http.StatusNotFound)
		return
	}
	n.expiry = time.Now().Add(-time.Second).UTC().Truncate(time.Second)
	s.armExpiry(n)
	s.announceExpiry(n)
	io.WriteString(w, "expired\n")
}

// handleDebugAuthorize: POST /debug/authorize?node=N, an admin approving
// machine N (-machine-auth). Its live map stream gets its self Node, now
// MachineAuthorized, and the peers it could not see; the others get it as a
// new peer. Its next register answers MachineAuthorized:true.
func (s *server) handleDebugAuthorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	id, err := strconv.ParseInt(r.URL.Query().Get("node"), 10, 64)
	if err != nil {
		http.Error(w, "bad node parameter", http.StatusBadRequest)
		return
	}
	s.net.mu.Lock()
	defer s.net.mu.Unlock()
	n := s.net.nodes[id]
	if n == nil {
		http.Error(w, "no such node", http.StatusNotFound)
		return
	}
	if !n.authorized {
		n.authorized = true
		logf("node %d: machine authorized", n.id)
		if n.stream != nil {
			n.stream.enqueue(mustJSON(&MapResponse{Node: s.view(n, false), PeersChanged: s.authorizedPeers(n)}))
		}
		s.push(n, &MapResponse{PeersChanged: []*Node{s.view(n, true)}})
	}
	io.WriteString(w, "authorized\n")
}

// handleDebugHostile: POST /debug/hostile?mode=M switches the server into
// hostile mode M ("" or "none": normal) from now on: every later /key,
// upgrade, register and map request gets it, map modes on every stream (not
// only the first), and every live map stream ends now (cleanly), so that the
// clients reconnect into it. 200 "hostile M", 400 for an unknown mode.
func (s *server) handleDebugHostile(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	m := r.URL.Query().Get("mode")
	if m == "none" {
		m = ""
	}
	if !validHostile(m) {
		http.Error(w, "unknown mode (see -list-hostile)", http.StatusBadRequest)
		return
	}
	s.modeMu.Lock()
	s.hostile, s.hostileLive = m, true
	s.modeMu.Unlock()
	s.net.mu.Lock()
	ended := 0
	for _, n := range s.net.nodes {
		if n.stream != nil {
			n.stream.end()
			ended++
		}
	}
	s.net.mu.Unlock()
	if m == "" {
		m = "none"
	}
	logf("hostile mode %s from now on; %d map streams ended", m, ended)
	fmt.Fprintf(w, "hostile %s\n", m)
}

// pingRecord is one PingRequest sent by POST /debug/ping and what came back
// to its URL (GET /debug/pings).
type pingRecord struct {
	ID    int64
	Node  int64
	URL   string
	Noise bool     // URLIsNoise as sent
	Type  string   // Types as sent
	Heads int      // HEAD requests to URL
	Posts []string // bodies POSTed to URL
	Other int      // any other request to URL
	Wrong int      // requests that came over the wrong transport (Noise vs plain)
	// Redirect: answer with a 302 to this URL (redirect=…)
	Redirect string `json:",omitempty"`
}

// c2nPayload is the HTTP/1.1 request a c2n PingRequest carries.
const c2nPayload = "GET /debug/ping-c2n HTTP/1.1\r\nHost: node\r\n\r\n"

// handleDebugPing: POST /debug/ping?node=N[&noise=1][&type=T][&repeat=K]
// [&log=1][&url=U][&redirect=R] pushes {"PingRequest":{"URL":<base>/ping/<id>,"URLIsNoise":…,"Types":T}}
// (with a c2n request as Payload when T is "c2n") K times (default 1, ≤ 8:
// the same URL, to check the client's dedup) on node N's live map stream.
// The URL is served over Noise HTTP/2 and plain HTTP alike; what arrives is
// counted in GET /debug/pings. log=1 sets Log; url=U sends U instead (for
// targets the client must refuse: nothing here sees them); redirect=R makes
// the URL answer 302 to R. Answers {"ID":id,"URL":url}; 409 when N has no
// map stream.
func (s *server) handleDebugPing(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	id, err := strconv.ParseInt(q.Get("node"), 10, 64)
	if err != nil {
		http.Error(w, "bad node parameter", http.StatusBadRequest)
		return
	}
	repeat := 1
	if v := q.Get("repeat"); v != "" {
		if repeat, err = strconv.Atoi(v); err != nil || repeat < 1 || repeat > 8 {
			http.Error(w, "bad repeat parameter", http.StatusBadRequest)
			return
		}
	}
	pr := &PingRequest{URLIsNoise: q.Get("noise") == "1", Types: q.Get("type"), Log: q.Get("log") == "1"}
	if pr.Types == "c2n" {
		pr.Payload = []byte(c2nPayload)
	}
	s.net.mu.Lock()
	defer s.net.mu.Unlock()
	n := s.net.nodes[id]
	if n == nil {
		http.Error(w, "no such node", http.StatusNotFound)
		return
	}
	if n.stream == nil {
		http.Error(w, "node has no map stream", http.StatusConflict)
		return
	}
	s.pingMu.Lock()
	rec := &pingRecord{ID: int64(len(s.pings) + 1), Node: id, Noise: pr.URLIsNoise, Type: pr.Types}
	rec.URL = fmt.Sprintf("%s/ping/%d", s.baseURL, rec.ID)
	if u := q.Get("url"); u != "" {
		rec.URL = u
	}
	rec.Redirect = q.Get("redirect")
	s.pings = append(s.pings, rec)
	s.pingMu.Unlock()
	pr.URL = rec.URL
	for i := 0; i < repeat; i++ {
		n.stream.enqueue(mustJSON(&MapResponse{PingRequest: pr}))
	}
	logf("node %d: PingRequest %q noise=%v type=%q ×%d", id, rec.URL, pr.URLIsNoise, pr.Types, repeat)
	w.Header().Set("Content-Type", "application/json")
	w.Write(mustJSON(map[string]interface{}{"ID": rec.ID, "URL": rec.URL}))
}

// answerPing serves /ping/<id> (plain HTTP, or over Noise when noise) and
// records the request; 200 with an empty body.
func (s *server) answerPing(w http.ResponseWriter, r *http.Request, noise bool) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	id, err := strconv.ParseInt(strings.TrimPrefix(r.URL.Path, "/ping/"), 10, 64)
	s.pingMu.Lock()
	defer s.pingMu.Unlock()
	if err != nil || id < 1 || id > int64(len(s.pings)) {
		http.Error(w, "no such ping", http.StatusNotFound)
		return
	}
	rec := s.pings[id-1]
	logf("ping %d: %s over %s", id, r.Method, map[bool]string{true: "noise", false: "plain HTTP"}[noise])
	// c2n answers always come over Noise (direct.go answerPing).
	if noise != (rec.Noise || rec.Type == "c2n") {
		rec.Wrong++
	}
	switch r.Method {
	case http.MethodHead:
		rec.Heads++
	case http.MethodPost:
		rec.Posts = append(rec.Posts, string(body))
	default:
		rec.Other++
	}
	if rec.Redirect != "" {
		http.Redirect(w, r, rec.Redirect, http.StatusFound)
	}
}

// handleDebugPings: GET /debug/pings, every pingRecord as a JSON array.
func (s *server) handleDebugPings(w http.ResponseWriter, r *http.Request) {
	s.pingMu.Lock()
	defer s.pingMu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Write(mustJSON(s.pings))
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

// dial does /key, the upgrade, the handshake and the early payload, and
// starts HTTP/2 over the records; it stops the program with FAIL on any
// problem. Every stage has ioTimeout (conn's deadline; clear it for long
// polls).
func dial(base string, version int, ioTimeout time.Duration, lax bool) (*http2.ClientConn, *url.URL, net.Conn) {
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
	return cc, u, conn
}

func runClient(base string, version int, ioTimeout time.Duration, lax bool) {
	cc, u, conn := dial(base, version, ioTimeout, lax)
	defer conn.Close()
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

// ---- map client ------------------------------------------------------------

// runMapClient registers a fresh node key (with authKey) and prints the map
// stream: "NODEKEY <key>", "REGISTER <response JSON>", then "MAP <JSON>" for
// each message (decoded, compacted), "END <reason>" when the stream ends.
// It exits 0 after count messages (0: never), 1 on any failure.
func runMapClient(base string, version int, ioTimeout time.Duration, authKey, hostname, endpoints, routes string,
	count int, compress bool) {
	cc, u, conn := dial(base, version, ioTimeout, false)
	defer conn.Close()
	conn.SetDeadline(time.Time{})
	nk := keypair("", "node-key")
	dk := keypair("", "disco-key")
	var req RegisterRequest
	req.Version = version
	copy(req.NodeKey[:], nk.Public)
	hi := &Hostinfo{Hostname: hostname, OS: "linux", IPNVersion: "ts2021-control"}
	for _, r := range splitList(routes) {
		p, err := netip.ParsePrefix(r)
		if err != nil {
			fatalf("-routes: %v", err)
		}
		hi.RoutableIPs = append(hi.RoutableIPs, p)
	}
	req.Hostinfo = hi
	if authKey != "" {
		req.Auth = &struct {
			Oauth2Token *json.RawMessage `json:",omitempty"`
			AuthKey     string           `json:",omitempty"`
		}{AuthKey: authKey}
	}
	say("NODEKEY %s", req.NodeKey)
	body, code := post(cc, u, "/machine/register", mustJSON(&req), ioTimeout)
	if code != http.StatusOK {
		fail("register", "HTTP %d: %s", code, bytes.TrimSpace(body))
	}
	say("REGISTER %s", bytes.TrimSpace(body))

	mreq := MapRequest{Version: version, KeepAlive: true, Stream: true, Hostinfo: hi}
	mreq.NodeKey = req.NodeKey
	copy(mreq.DiscoKey[:], dk.Public)
	if compress {
		mreq.Compress = "zstd"
	}
	for _, e := range splitList(endpoints) {
		ap, err := netip.ParseAddrPort(e)
		if err != nil {
			fatalf("-endpoints: %v", err)
		}
		mreq.Endpoints = append(mreq.Endpoints, ap)
		mreq.EndpointTypes = append(mreq.EndpointTypes, 1)
	}
	hreq, _ := http.NewRequest(http.MethodPost, "https://"+u.Host+"/machine/map", bytes.NewReader(mustJSON(&mreq)))
	res, err := cc.RoundTrip(hreq)
	if err != nil {
		fail("map", "%v", err)
	}
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		fail("map", "HTTP %d: %s", res.StatusCode, bytes.TrimSpace(b))
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(128<<20), zstd.WithDecoderConcurrency(1))
	if err != nil {
		fatalf("zstd: %v", err)
	}
	for i := 0; count == 0 || i < count; i++ {
		var p [4]byte
		if _, err := io.ReadFull(res.Body, p[:]); err != nil {
			say("END %v", err)
			os.Exit(1)
		}
		n := binary.LittleEndian.Uint32(p[:])
		if n > 16<<20 {
			say("END length %d over the 16 MiB cap", n)
			os.Exit(1)
		}
		msg := make([]byte, n)
		if _, err := io.ReadFull(res.Body, msg); err != nil {
			say("END %v", err)
			os.Exit(1)
		}
		if compress {
			if msg, err = dec.DecodeAll(msg, nil); err != nil {
				say("END zstd: %v", err)
				os.Exit(1)
			}
		}
		var out bytes.Buffer
		if err := json.Compact(&out, msg); err != nil {
			say("END JSON: %v", err)
			os.Exit(1)
		}
		say("MAP %s", out.Bytes())
	}
	say("OK")
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// post sends a POST over cc and returns the body (≤ 1 MiB) and status.
func post(cc *http2.ClientConn, u *url.URL, path string, body []byte, timeout time.Duration) ([]byte, int) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+u.Host+path, bytes.NewReader(body))
	res, err := cc.RoundTrip(req)
	if err != nil {
		fail(strings.TrimPrefix(path, "/machine/"), "%v", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		fail(strings.TrimPrefix(path, "/machine/"), "%v", err)
	}
	return b, res.StatusCode
}

// ---- main ---------------------------------------------------------------

func main() {
	role := flag.String("role", "server", "server, client or mapclient")
	listen := flag.String("listen", "127.0.0.1:0", "server: address to listen on")
	key := flag.String("key", "", "server: static private key (64 hex); random if empty")
	minVersion := flag.Int("min-version", 113, "server: lowest accepted protocol (capability) version")
	noEarly := flag.Bool("no-early-payload", false, "server: send no early payload")
	hostile := flag.String("hostile", "", "server: misbehave (see -list-hostile)")
	authKey := flag.String("auth-key", "tskey-test", "server: the auth key /machine/register accepts")
	authError := flag.String("auth-error", "invalid auth key", "server: RegisterResponse.Error for a wrong auth key")
	interactive := flag.Bool("interactive", false, "server: ignore auth keys; new machines get an AuthURL")
	approveRoutes := flag.Bool("approve-routes", false, "server: approve the routes nodes advertise in Hostinfo.RoutableIPs")
	keyExpiry := flag.Duration("key-expiry", 0, "server: node key lifetime (0 = never expires)")
	machineAuth := flag.Bool("machine-auth", false, "server: new machines are MachineAuthorized only after POST /debug/authorize?node=N")
	keepAlive := flag.Duration("keepalive", 50*time.Second, "server: map stream keep-alive period")
	mapScript := flag.String("map-script", "", "server: JSON steps played on the first map stream after the full map")
	derpMapFile := flag.String("derp-map", "", "server: a tailcfg.DERPMap JSON file sent in every full map")
	listHostile := flag.Bool("list-hostile", false, "list the -hostile modes and exit")
	base := flag.String("url", "", "client: server base URL, http://host:port")
	version := flag.Int("version", 130, "client: protocol (capability) version")
	lax := flag.Bool("lax", false, "client: skip the Upgrade value, early-payload size and JSON checks (to see what a hostile server sends next)")
	ioTimeout := flag.Duration("io-timeout", 10*time.Second, "client: limit for each stage")
	timeout := flag.Duration("timeout", 60*time.Second, "hang guard: exit 2 after this long")
	hostname := flag.String("hostname", "mapclient", "mapclient: Hostinfo.Hostname")
	endpoints := flag.String("endpoints", "", "mapclient: comma-separated ip:port endpoints")
	routes := flag.String("routes", "", "mapclient: comma-separated Hostinfo.RoutableIPs")
	count := flag.Int("count", 0, "mapclient: exit 0 after this many map messages (0: never)")
	noZstd := flag.Bool("no-zstd", false, "mapclient: ask for an uncompressed map stream")
	flag.Parse()
	progName = "ts2021-control"
	if flag.NArg() != 0 {
		fatalf("unexpected arguments %q", flag.Args())
	}
	if *listHostile {
		for _, h := range hostileModes {
			say("%-22s %s", h.name, h.what)
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
		if *keepAlive <= 0 {
			fatalf("-keepalive must be positive")
		}
		s := &server{minVersion: *minVersion, early: !*noEarly, hostile: *hostile, authKey: *authKey, authError: *authError,
			interactive: *interactive, approveRoutes: *approveRoutes, keyExpiry: *keyExpiry,
			keepAlive: *keepAlive, machineAuth: *machineAuth}
		if *mapScript != "" {
			s.script = loadScript(*mapScript)
		}
		if *derpMapFile != "" {
			b, err := os.ReadFile(*derpMapFile)
			if err != nil || !json.Valid(b) {
				fatalf("-derp-map %s: not a readable JSON file (%v)", *derpMapFile, err)
			}
			s.derpMap = b
		}
		runServer(s, *listen, *key)
	case "client":
		if *base == "" {
			fatalf("-url is required")
		}
		runClient(*base, *version, *ioTimeout, *lax)
	case "mapclient":
		if *base == "" {
			fatalf("-url is required")
		}
		runMapClient(*base, *version, *ioTimeout, *authKey, *hostname, *endpoints, *routes, *count, !*noZstd)
	default:
		fatalf("-role must be server, client or mapclient")
	}
}
