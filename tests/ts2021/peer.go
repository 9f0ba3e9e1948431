// SPDX-License-Identifier: MIT

// Command peer is an independent TS2021 "controlbase" peer (Tailscale's
// control/controlbase) used to test Hyphae's C implementation against code nobody on the
// C side wrote. The Noise IK handshake is github.com/flynn/noise; the framing
// and the transport (big-endian nonces) are written here from the spec.
//
// Build offline, GOPATH mode, Debian packages only:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$tmp/gocache \
//	    go build -o $tmp/ts2021-peer tests/ts2021/peer.go tests/ts2021/cbase.go
//
// Server (our C code is the client):
//
//	peer -role server -listen 127.0.0.1:0 [-key HEX] [-min-version N]
//	     [-hostile error|bad-tag|oversize|le-nonce|short-response] [-pad-empty]
//
// prints "LISTEN <addr>" and "PUB <hex>", accepts one connection (a version
// under -min-version gets the error frame "unsupported version" and the line
// "REJECT version <N>"), completes the handshake, prints "PEER <client machine pub hex>" and "HASH <handshake
// hash hex>", then answers every record with payload P by writing
// "echo:"+P (split into records of at most 4077 plaintext bytes); exits 0 at
// EOF.
//
// Client (our C code is the server):
//
//	peer -role client -connect ADDR -server-pub HEX -version N
//	     [-machine-key HEX] [-send STR]... [-send-pattern N]...
//
// prints "PUB <machine pub hex>", sends the initiation, prints "HASH <hex>"
// once the response authenticates (or "ERROR <text>" and exits 3 on an error
// frame), sends each -send / -send-pattern payload as one write (an empty
// payload is sent as one empty record), half-closes, then prints
// "RECV <len> <hex>" for every record received and "EOF" at the end.
//
// Every mode exits 2 on its own after -timeout (a hang guard, not a timing
// assumption of the protocol).
package main

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/flynn/noise"
)

const hostileErrorMsg = "hostile: go away"

// ---- server -------------------------------------------------------------

func runServer(listen, keyHex string, minVersion int, hostile string, padEmpty bool) {
	switch hostile {
	case "", "error", "bad-tag", "oversize", "le-nonce", "short-response":
	default:
		fatalf("unknown -hostile mode %q", hostile)
	}
	static := keypair(keyHex, "key")
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		fatalf("listen: %v", err)
	}
	say("LISTEN %s", ln.Addr())
	say("PUB %s", hex.EncodeToString(static.Public))
	conn, err := ln.Accept()
	if err != nil {
		fatalf("accept: %v", err)
	}
	ln.Close()
	defer conn.Close()
	rd := bufio.NewReaderSize(conn, 2*maxFrame)

	// Initiation: version u16 BE ‖ 0x01 ‖ len u16 BE = 96 ‖ 96-byte Noise message.
	var hdr [initHeaderLen]byte
	if _, err := io.ReadFull(rd, hdr[:]); err != nil {
		fatalf("read initiation header: %v", err)
	}
	version := binary.BigEndian.Uint16(hdr[0:])
	if hdr[2] != msgInitiation {
		conn.Write(errorFrame("unexpected handshake message type"))
		fatalf("initiation type %d", hdr[2])
	}
	if l := binary.BigEndian.Uint16(hdr[3:]); l != initPayloadLen {
		conn.Write(errorFrame("unexpected handshake initiation length"))
		fatalf("initiation length %d", l)
	}
	msg := make([]byte, initPayloadLen)
	if _, err := io.ReadFull(rd, msg); err != nil {
		fatalf("read initiation: %v", err)
	}
	if int(version) < minVersion {
		conn.Write(errorFrame("unsupported version"))
		say("REJECT version %d", version)
		drain(rd)
		return
	}
	if hostile == "error" {
		conn.Write(errorFrame(hostileErrorMsg))
		drain(rd)
		return
	}

	hs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite:   cipherSuite,
		Pattern:       noise.HandshakeIK,
		Initiator:     false,
		Prologue:      prologue(version),
		StaticKeypair: static,
	})
	if err != nil {
		fatalf("handshake state: %v", err)
	}
	if _, _, _, err := hs.ReadMessage(nil, msg); err != nil {
		conn.Write(errorFrame("handshake failed"))
		fatalf("initiation does not authenticate: %v", err)
	}
	resp, csI2R, csR2I, err := hs.WriteMessage(nil, nil)
	if err != nil || csI2R == nil || len(resp) != respPayloadLen {
		fatalf("write response: %v (len %d)", err, len(resp))
	}
	frame := []byte{msgResponse, 0, respPayloadLen}
	if hostile == "short-response" {
		frame[2] = respPayloadLen - 1
		resp = resp[:respPayloadLen-1]
	}
	if _, err := conn.Write(append(frame, resp...)); err != nil {
		fatalf("write response: %v", err)
	}
	if hostile == "short-response" {
		drain(rd)
		return
	}
	say("PEER %s", hex.EncodeToString(hs.PeerStatic()))
	say("HASH %s", hex.EncodeToString(hs.ChannelBinding()))

	t := &transport{conn: conn, rd: rd, rx: aeadOf(csI2R), tx: aeadOf(csR2I)}
	t.leTx = hostile == "le-nonce"
	first := true
	for {
		pt, err := t.readRecord()
		if err == io.EOF {
			return
		}
		if err != nil {
			fatalf("read: %v", err)
		}
		reply := append([]byte("echo:"), pt...)
		switch {
		case hostile == "" || !first:
			if padEmpty {
				if err := t.write(nil); err != nil {
					fatalf("write: %v", err)
				}
			}
			if err := t.write(reply); err != nil {
				fatalf("write: %v", err)
			}
		case hostile == "bad-tag":
			f := t.sealRecord(reply)
			f[len(f)-1] ^= 0x01
			conn.Write(f)
		case hostile == "oversize":
			// A record header announcing 4094 bytes: 4097 with the header.
			f := make([]byte, maxFrame+1)
			f[0] = msgRecord
			binary.BigEndian.PutUint16(f[1:], maxFrame+1-headerLen)
			io.ReadFull(rand.Reader, f[headerLen:])
			conn.Write(f)
		case hostile == "le-nonce":
			// n=0 is the same in both encodings; n=1 is not.
			second := pt
			if len(second) == 0 {
				second = []byte("x")
			}
			conn.Write(t.sealRecord([]byte("echo:")))
			conn.Write(t.sealRecord(second))
		}
		first = false
	}
}

// ---- client -------------------------------------------------------------

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

func runClient(addr, serverPubHex string, version int, machineHex string, payloads [][]byte) {
	if serverPubHex == "" {
		fatalf("-server-pub is required")
	}
	if version < 0 || version > 0xffff {
		fatalf("-version out of range")
	}
	serverPub := keyFromHex("server-pub", serverPubHex)
	machine := keypair(machineHex, "machine-key")
	say("PUB %s", hex.EncodeToString(machine.Public))

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
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		fatalf("connect: %v", err)
	}
	defer conn.Close()
	init := make([]byte, initHeaderLen, initHeaderLen+initPayloadLen)
	binary.BigEndian.PutUint16(init[0:], uint16(version))
	init[2] = msgInitiation
	binary.BigEndian.PutUint16(init[3:], initPayloadLen)
	if _, err := conn.Write(append(init, msg...)); err != nil {
		fatalf("write initiation: %v", err)
	}
	rd := bufio.NewReaderSize(conn, 2*maxFrame)
	typ, body, err := readFrame(rd)
	if err != nil {
		fatalf("read response: %v", err)
	}
	switch {
	case typ == msgError:
		say("ERROR %s", body)
		os.Exit(3)
	case typ != msgResponse || len(body) != respPayloadLen:
		fatalf("bad response frame: type %d, %d bytes", typ, len(body))
	}
	_, csI2R, csR2I, err := hs.ReadMessage(nil, body)
	if err != nil || csI2R == nil {
		fatalf("response does not authenticate: %v", err)
	}
	say("HASH %s", hex.EncodeToString(hs.ChannelBinding()))

	t := &transport{conn: conn, rd: rd, tx: aeadOf(csI2R), rx: aeadOf(csR2I)}
	for _, p := range payloads {
		if err := t.write(p); err != nil {
			fatalf("write: %v", err)
		}
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	for {
		pt, err := t.readRecord()
		if err == io.EOF {
			say("EOF")
			return
		}
		if err != nil {
			fatalf("read: %v", err)
		}
		say("RECV %d %s", len(pt), hex.EncodeToString(pt))
	}
}

// ---- main ---------------------------------------------------------------

func main() {
	role := flag.String("role", "", "server or client")
	listen := flag.String("listen", "127.0.0.1:0", "server: address to listen on")
	key := flag.String("key", "", "server: static private key (64 hex); random if empty")
	minVersion := flag.Int("min-version", 1, "server: lowest accepted protocol version")
	hostile := flag.String("hostile", "", "server: error|bad-tag|oversize|le-nonce|short-response")
	padEmpty := flag.Bool("pad-empty", false, "server: send an empty record before every echo")
	connect := flag.String("connect", "", "client: server address")
	serverPub := flag.String("server-pub", "", "client: server static public key (64 hex)")
	version := flag.Int("version", 130, "client: protocol (capability) version")
	machineKey := flag.String("machine-key", "", "client: machine private key (64 hex); random if empty")
	timeout := flag.Duration("timeout", 60*time.Second, "hang guard: exit 2 after this long")
	var sends, patterns multiFlag
	flag.Var(&sends, "send", "client: payload to send (repeatable)")
	flag.Var(&patterns, "send-pattern", "client: send N bytes of i%251 (repeatable, after -send)")
	flag.Parse()
	progName = "ts2021-peer"
	if flag.NArg() != 0 {
		fatalf("unexpected arguments %q", flag.Args())
	}
	checkProtocolName()
	time.AfterFunc(*timeout, func() {
		fmt.Fprintf(os.Stderr, "ts2021-peer: hang guard: %v elapsed\n", *timeout)
		os.Exit(2)
	})

	switch *role {
	case "server":
		runServer(*listen, *key, *minVersion, *hostile, *padEmpty)
	case "client":
		var payloads [][]byte
		for _, s := range sends {
			payloads = append(payloads, []byte(s))
		}
		for _, s := range patterns {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				fatalf("-send-pattern %q: %v", s, errors.New("want a byte count"))
			}
			payloads = append(payloads, pattern(n))
		}
		if *connect == "" {
			fatalf("-connect is required")
		}
		runClient(*connect, *serverPub, *version, *machineKey, payloads)
	default:
		fatalf("-role must be server or client")
	}
}
