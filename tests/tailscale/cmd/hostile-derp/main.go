// SPDX-License-Identifier: MIT

// hostile-derp is a DERP server that misbehaves on purpose, for the tests of
// hyphaed's DERP client (tests/unit/test-derp-conn.c). It speaks just enough
// of the protocol (frames as in tailscale.com/derp/derp.go, boxes with
// tailscale.com/types/key) to log a client in, and in each -mode breaks one
// rule on the connections it picks. After the misdeed it behaves, so a test
// sees the client fail clearly and then reconnect:
//
//	bad-magic       odd connections: a ServerKey frame with a wrong magic
//	huge-frame      odd connections: after login, a frame announcing 2 GiB
//	unknown-frames  every connection: frame types nobody knows between good ones
//	silence         odd connections: the 101, then nothing at all
//	bad-serverinfo  odd connections: a ServerInfo boxed with another key
//	restarting      odd connections: login, Restarting(200 ms, 5 s), close
//	health          every connection: login, then Health "hostile: degraded"
//	good            every connection behaves
//
// A good session pings the client and, when the Pong echoes the ping,
// sends a RecvPacket "pong ok" from the all-0x11 key; each SendPacket comes
// back as a RecvPacket from the client's own key (an echo).
//
// It prints "listening ADDR" and, with TLS, "certname sha256-raw:HEX" (the
// DERPNode CertName of its self-signed certificate), then one line per
// connection: "conn N".
package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"tailscale.com/types/key"
)

const (
	frameServerKey  = 0x01
	frameClientInfo = 0x02
	frameServerInfo = 0x03
	frameSendPacket = 0x04
	frameRecvPacket = 0x05
	frameKeepAlive  = 0x06
	framePing       = 0x12
	framePong       = 0x13
	frameHealth     = 0x14
	frameRestarting = 0x15
	magic           = "DERP\xf0\x9f\x94\x91"
)

var (
	addr     = flag.String("a", "127.0.0.1:0", "listen address")
	hostname = flag.String("hostname", "127.0.0.1", "certificate name (an IP or DNS name)")
	plain    = flag.Bool("http", false, "plain HTTP instead of TLS")
	mode     = flag.String("mode", "good", "misdeed (see the package comment)")
	conns    atomic.Int64
)

func main() {
	flag.Parse()
	switch *mode {
	case "bad-magic", "huge-frame", "unknown-frames", "silence", "bad-serverinfo",
		"restarting", "health", "good":
	default:
		log.Fatalf("unknown -mode %q", *mode)
	}
	serverKey := key.NewNode()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening %s\n", ln.Addr())
	if !*plain {
		cert, sum := selfSigned(*hostname)
		fmt.Printf("certname sha256-raw:%x\n", sum)
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})
	}
	http.HandleFunc("/derp", func(w http.ResponseWriter, r *http.Request) {
		serve(w, r, serverKey)
	})
	log.Fatal(http.Serve(ln, nil))
}

func selfSigned(name string) (tls.Certificate, [32]byte) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	tmpl := x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if ip := net.ParseIP(name); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{name}
	}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, &priv.PublicKey, priv)
	if err != nil {
		log.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv}, sha256.Sum256(der)
}

func writeFrame(w *bufio.Writer, typ byte, payload ...[]byte) error {
	n := 0
	for _, p := range payload {
		n += len(p)
	}
	var hdr [5]byte
	hdr[0] = typ
	binary.BigEndian.PutUint32(hdr[1:], uint32(n))
	w.Write(hdr[:])
	for _, p := range payload {
		w.Write(p)
	}
	return w.Flush()
}

func readFrame(r *bufio.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > 1<<20 {
		return 0, nil, fmt.Errorf("frame of %d bytes", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return 0, nil, err
	}
	return hdr[0], b, nil
}

func serve(w http.ResponseWriter, r *http.Request, serverKey key.NodePrivate) {
	n := conns.Add(1)
	fmt.Printf("conn %d\n", n)
	if r.Header.Get("Upgrade") != "DERP" {
		http.Error(w, "DERP requires connection upgrade", http.StatusUpgradeRequired)
		return
	}
	conn, brw, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n"+
		"Derp-Version: 2\r\nDerp-Public-Key: %s\r\n\r\n", serverKey.Public().UntypedHexString())
	brw.Flush()
	odd := n%2 == 1
	bw, br := brw.Writer, brw.Reader

	switch {
	case *mode == "silence" && odd:
		io.Copy(io.Discard, br) // until the client gives up
		return
	case *mode == "bad-magic" && odd:
		pub := serverKey.Public().AppendTo(nil)
		writeFrame(bw, frameServerKey, []byte("DERP\xf0\x9f\x94\x92"), pub)
		io.Copy(io.Discard, br)
		return
	}

	writeFrame(bw, frameServerKey, []byte(magic), serverKey.Public().AppendTo(nil))
	client, err := readClientInfo(br, serverKey)
	if err != nil {
		log.Printf("conn %d: %v", n, err)
		return
	}
	info := serverKey.SealTo(client, []byte(`{"version":2}`))
	if *mode == "bad-serverinfo" && odd {
		info = key.NewNode().SealTo(client, []byte(`{"version":2}`))
	}
	writeFrame(bw, frameServerInfo, info)

	switch {
	case *mode == "bad-serverinfo" && odd:
		io.Copy(io.Discard, br)
		return
	case *mode == "huge-frame" && odd:
		var hdr [5]byte
		hdr[0] = frameRecvPacket
		binary.BigEndian.PutUint32(hdr[1:], 2<<30)
		bw.Write(hdr[:])
		bw.Write(bytes.Repeat([]byte{0xee}, 4096))
		bw.Flush()
		io.Copy(io.Discard, br)
		return
	case *mode == "restarting" && odd:
		var p [8]byte
		binary.BigEndian.PutUint32(p[0:], 200)
		binary.BigEndian.PutUint32(p[4:], 5000)
		writeFrame(bw, frameRestarting, p[:])
		return
	case *mode == "unknown-frames":
		src := bytes.Repeat([]byte{0x22}, 32)
		writeFrame(bw, 0x7f, []byte("from a newer server"))
		writeFrame(bw, frameRecvPacket, src, []byte("one"))
		writeFrame(bw, 0x20)
		writeFrame(bw, 0xff, bytes.Repeat([]byte{0}, 70000))
		writeFrame(bw, frameKeepAlive)
		writeFrame(bw, frameRecvPacket, src, []byte("two"))
	case *mode == "health":
		writeFrame(bw, frameHealth, []byte("hostile: degraded"))
	}
	session(n, bw, br, client)
}

func readClientInfo(br *bufio.Reader, serverKey key.NodePrivate) (key.NodePublic, error) {
	var client key.NodePublic
	typ, b, err := readFrame(br)
	if err != nil {
		return client, err
	}
	if typ != frameClientInfo || len(b) < 32 {
		return client, fmt.Errorf("want ClientInfo, got frame type %#x of %d bytes", typ, len(b))
	}
	if err := client.UnmarshalText([]byte("nodekey:" + hex.EncodeToString(b[:32]))); err != nil {
		return client, err
	}
	msg, ok := serverKey.OpenFrom(client, b[32:])
	if !ok {
		return client, fmt.Errorf("ClientInfo does not open")
	}
	var ci struct {
		Version     int  `json:"version"`
		CanAckPings bool `json:"CanAckPings"`
	}
	if err := json.Unmarshal(msg, &ci); err != nil || ci.Version != 2 || !ci.CanAckPings {
		return client, fmt.Errorf("ClientInfo %q", msg)
	}
	return client, nil
}

// session: a ping, then echoes until the client leaves, with a KeepAlive
// every 250 ms (derper sends one a minute; tests shorten the client's deadline).
func session(n int64, bw *bufio.Writer, br *bufio.Reader, client key.NodePublic) {
	var mu sync.Mutex
	write := func(typ byte, payload ...[]byte) {
		mu.Lock()
		defer mu.Unlock()
		writeFrame(bw, typ, payload...)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				write(frameKeepAlive)
			}
		}
	}()

	var ping [8]byte
	rand.Read(ping[:])
	write(framePing, ping[:])
	for {
		typ, b, err := readFrame(br)
		if err != nil {
			return
		}
		switch typ {
		case framePong:
			if bytes.Equal(b, ping[:]) {
				write(frameRecvPacket, bytes.Repeat([]byte{0x11}, 32), []byte("pong ok"))
			}
		case frameSendPacket:
			if len(b) >= 32 {
				write(frameRecvPacket, client.AppendTo(nil), b[32:])
			}
		}
	}
}

func init() {
	log.SetOutput(os.Stderr)
	log.SetFlags(0)
	log.SetPrefix("hostile-derp: ")
}
