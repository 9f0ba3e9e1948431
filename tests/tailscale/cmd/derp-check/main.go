// SPDX-License-Identifier: MIT

// derp-check drives a DERP server with Tailscale's own client packages
// (tailscale.com/derp/derphttp, types/key, net/stun): the interop proof for
// hyphae-derp, and a relayed-throughput probe for bench/.
//
//	derp-check relay -url https://IP:PORT/derp [-cert-name sha256-raw:HEX | -insecure] [-n N]
//	derp-check hostile -url ... -metrics-url https://127.0.0.1:PORT/debug/metrics [-insecure]
//	derp-check metrics -metrics-url URL
//	derp-check stun -addr IP:PORT
//	derp-check flood -url ... [-seconds S] [-size B]   (prints relayed Mbit/s)
//
// With an http:// URL the clients speak plain HTTP. Every wait has a
// generous deadline; a failure exits 1 with what was missing.
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"tailscale.com/derp"
	"tailscale.com/derp/derphttp"
	"tailscale.com/net/netmon"
	"tailscale.com/net/stun"
	"tailscale.com/tailcfg"
	"tailscale.com/types/key"
)

const wait = 20 * time.Second

func main() {
	log.SetFlags(log.Lmicroseconds)
	if len(os.Args) < 2 {
		log.Fatal("usage: derp-check relay|hostile|metrics|stun|flood [flags]")
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	serverURL := fs.String("url", "", "the server's /derp URL (https:// or http://)")
	certName := fs.String("cert-name", "", "CertName pinning the server's certificate (sha256-raw:HEX)")
	insecure := fs.Bool("insecure", false, "InsecureForTests: skip certificate checks")
	n := fs.Int("n", 2000, "packets each way")
	addr := fs.String("addr", "", "STUN server IP:PORT")
	seconds := fs.Float64("seconds", 5, "flood duration")
	size := fs.Int("size", 1280, "flood packet size")
	metricsURL := fs.String("metrics-url", "", "the server's /debug/metrics (hostile checks its counters)")
	fs.Parse(os.Args[2:])

	var err error
	switch os.Args[1] {
	case "relay":
		err = checkRelay(region(*serverURL, *certName, *insecure), *n)
	case "hostile":
		err = checkHostile(region(*serverURL, *certName, *insecure), *serverURL, *metricsURL)
	case "metrics":
		err = printMetrics(*metricsURL)
	case "stun":
		err = checkSTUN(*addr)
	case "flood":
		err = flood(region(*serverURL, *certName, *insecure), time.Duration(*seconds*float64(time.Second)), *size)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		log.Printf("FAIL %s: %v", os.Args[1], err)
		os.Exit(1)
	}
}

// region is a one-node DERP region for the URL, as a DERP map would give it:
// the client dials it, checks the pin (CertName) or skips checks (InsecureForTests).
func region(rawURL, certName string, insecure bool) *tailcfg.DERPRegion {
	u, err := url.Parse(rawURL)
	if err != nil || u.Hostname() == "" {
		log.Fatalf("bad -url %q", rawURL)
	}
	port, _ := strconv.Atoi(u.Port())
	node := &tailcfg.DERPNode{Name: "900a", RegionID: 900, HostName: u.Hostname(), DERPPort: port,
		CertName: certName, InsecureForTests: insecure}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil && ip.Is4() {
		node.IPv4 = ip.String()
		node.IPv6 = "none"
	} else if err == nil {
		node.IPv6 = ip.String()
		node.IPv4 = "none"
	}
	if u.Scheme == "http" {
		plainURL = rawURL // a region's node is always dialled with TLS (without a debug knob)
	}
	return &tailcfg.DERPRegion{RegionID: 900, RegionCode: "test", Nodes: []*tailcfg.DERPNode{node}}
}

// plainURL, when set, is an http:// URL the clients dial instead of the region.
var plainURL string

// client is one derphttp connection with its receive loop feeding channels.
type client struct {
	name  string
	priv  key.NodePrivate
	c     *derphttp.Client
	pkts  chan derp.ReceivedPacket
	gone  chan derp.PeerGoneMessage
	recvd atomic.Int64
	done  chan struct{}
}

func newClient(ctx context.Context, name string, reg *tailcfg.DERPRegion, priv key.NodePrivate) (*client, error) {
	c := derphttp.NewRegionClient(priv, log.Printf, netmon.NewStatic(), func() *tailcfg.DERPRegion { return reg })
	if plainURL != "" {
		var err error
		if c, err = derphttp.NewClient(priv, plainURL, log.Printf, netmon.NewStatic()); err != nil {
			return nil, err
		}
	}
	if err := c.Connect(ctx); err != nil {
		return nil, fmt.Errorf("%s: connect: %w", name, err)
	}
	c.NotePreferred(true)
	cl := &client{name: name, priv: priv, c: c, pkts: make(chan derp.ReceivedPacket, 4096),
		gone: make(chan derp.PeerGoneMessage, 16), done: make(chan struct{})}
	go cl.recvLoop()
	// The server answers frames in order: a Pong means our ClientInfo was taken
	// (Connect returns before the server has registered us).
	pctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if err := c.Ping(pctx); err != nil {
		return nil, fmt.Errorf("%s: ping: %w", name, err)
	}
	return cl, nil
}

func (cl *client) pub() key.NodePublic { return cl.priv.Public() }

func (cl *client) recvLoop() {
	defer close(cl.done)
	for {
		m, err := cl.c.Recv()
		if err != nil {
			return
		}
		switch m := m.(type) {
		case derp.ReceivedPacket:
			cl.pkts <- derp.ReceivedPacket{Source: m.Source, Data: bytes.Clone(m.Data)}
			cl.recvd.Add(1)
		case derp.PeerGoneMessage:
			cl.gone <- m
		}
	}
}

// The i-th packet: seq ‖ a pattern of a length that walks 1..9000 bytes, with
// one packet of the maximum size DERP carries.
func packet(from string, i int) []byte {
	n := 12 + (i*7919)%9000
	if i == 7 {
		n = derp.MaxPacketSize
	}
	p := make([]byte, n)
	binary.BigEndian.PutUint64(p, uint64(i))
	binary.BigEndian.PutUint32(p[8:], uint32(len(from)))
	for j := 12; j < n; j++ {
		p[j] = byte(j*31 + i + int(from[0]))
	}
	return p
}

// send sends n packets to dst, never more than 16 ahead of what dst has
// received, so the server's per-client queue (32) never drops one.
func send(src, dst *client, n int) error {
	for i := range n {
		deadline := time.Now().Add(wait)
		for int64(i)-dst.recvd.Load() >= 16 {
			if time.Now().After(deadline) {
				return fmt.Errorf("%s → %s: %d received of %d sent", src.name, dst.name, dst.recvd.Load(), i)
			}
			time.Sleep(time.Millisecond)
		}
		if err := src.c.Send(dst.pub(), packet(src.name, i)); err != nil {
			return fmt.Errorf("%s: send %d: %w", src.name, i, err)
		}
	}
	return nil
}

func expectPackets(src, dst *client, n int) error {
	for i := range n {
		select {
		case m := <-dst.pkts:
			if m.Source != src.pub() {
				return fmt.Errorf("%s: packet %d from %v, want %v", dst.name, i, m.Source, src.pub())
			}
			if want := packet(src.name, i); !bytes.Equal(m.Data, want) {
				return fmt.Errorf("%s: packet %d: %d bytes differ from the %d sent (%x…)", dst.name, i, len(m.Data), len(want), m.Data[:min(len(m.Data), 24)])
			}
		case <-time.After(wait):
			return fmt.Errorf("%s: packet %d of %d from %s did not arrive", dst.name, i, n, src.name)
		}
	}
	return nil
}

func expectOne(dst *client, from key.NodePublic, data string) error {
	select {
	case m := <-dst.pkts:
		if m.Source != from || string(m.Data) != data {
			return fmt.Errorf("%s: got %q from %v, want %q from %v", dst.name, m.Data, m.Source, data, from)
		}
		return nil
	case g := <-dst.gone:
		return fmt.Errorf("%s: PeerGone(%v, %d) before %q", dst.name, g.Peer, g.Reason, data)
	case <-time.After(wait):
		return fmt.Errorf("%s: %q did not arrive", dst.name, data)
	}
}

func expectGone(dst *client, peer key.NodePublic, reason derp.PeerGoneReasonType) error {
	select {
	case g := <-dst.gone:
		if g.Peer != peer || g.Reason != reason {
			return fmt.Errorf("%s: PeerGone(%v, %d), want (%v, %d)", dst.name, g.Peer, g.Reason, peer, reason)
		}
		return nil
	case <-time.After(wait):
		return fmt.Errorf("%s: no PeerGone(%v, %d)", dst.name, peer, reason)
	}
}

// pair connects two clients with fresh keys; the caller closes them.
func pair(ctx context.Context, reg *tailcfg.DERPRegion) (a, b *client, err error) {
	if a, err = newClient(ctx, "a", reg, key.NewNode()); err != nil {
		return nil, nil, err
	}
	if b, err = newClient(ctx, "b", reg, key.NewNode()); err != nil {
		a.c.Close()
		return nil, nil, err
	}
	return a, b, nil
}

// exchange: n packets each way at once, contents checked.
func exchange(a, b *client, n int) error {
	errs := make(chan error, 4)
	go func() { errs <- send(a, b, n) }()
	go func() { errs <- send(b, a, n) }()
	go func() { errs <- expectPackets(a, b, n) }()
	go func() { errs <- expectPackets(b, a, n) }()
	for range 4 {
		if err := <-errs; err != nil {
			return err
		}
	}
	return nil
}

func checkRelay(reg *tailcfg.DERPRegion, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	a, b, err := pair(ctx, reg)
	if err != nil {
		return err
	}
	defer a.c.Close()
	if a.c.ServerPublicKey().IsZero() || a.c.ServerPublicKey() != b.c.ServerPublicKey() {
		return fmt.Errorf("server keys: %v and %v", a.c.ServerPublicKey(), b.c.ServerPublicKey())
	}
	if err := exchange(a, b, n); err != nil {
		return err
	}
	log.Printf("PASS ping: each client's Ping had its Pong")
	log.Printf("PASS relay: %d packets each way, contents checked", n)

	// A second connection with b's key: the newest one receives.
	b2, err := newClient(ctx, "b2", reg, b.priv)
	if err != nil {
		return err
	}
	if err := a.c.Send(b.pub(), []byte("to the newest")); err != nil {
		return err
	}
	if err := expectOne(b2, a.pub(), "to the newest"); err != nil {
		return err
	}
	// It leaves: b is still there, so no PeerGone reaches a before b's answer.
	b2.c.Close()
	<-b2.done
	deadline := time.Now().Add(wait)
	for {
		a.c.Send(b.pub(), []byte("back to b"))
		select {
		case m := <-b.pkts:
			if string(m.Data) != "back to b" {
				return fmt.Errorf("b: got %q", m.Data)
			}
		case <-time.After(100 * time.Millisecond):
			// The server may not have seen b2's close yet: b2 was still the newest.
			if time.Now().After(deadline) {
				return fmt.Errorf("b: nothing after b2 left")
			}
			continue
		}
		break
	}
	if err := b.c.Send(a.pub(), []byte("ack")); err != nil {
		return err
	}
	if err := expectOne(a, b.pub(), "ack"); err != nil {
		return err
	}
	log.Printf("PASS duplicate key: the newest connection receives, the older one after it left")

	// b leaves: a, which b sent to, hears PeerGone(disconnected).
	b.c.Close()
	if err := expectGone(a, b.pub(), derp.PeerGoneReasonDisconnected); err != nil {
		return err
	}
	log.Printf("PASS PeerGone(disconnected)")

	// A disco packet to nobody: PeerGone(not-here).
	nobody := key.NewNode().Public()
	disco := append([]byte("TS\xf0\x9f\x92\xac"), make([]byte, 32+24+16)...)
	if err := a.c.Send(nobody, disco); err != nil {
		return err
	}
	if err := expectGone(a, nobody, derp.PeerGoneReasonNotHere); err != nil {
		return err
	}
	log.Printf("PASS PeerGone(not-here)")
	return nil
}

func checkSTUN(addr string) error {
	conn, err := net.ListenPacket("udp", ":0")
	if err != nil {
		return err
	}
	defer conn.Close()
	dst, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return err
	}
	tx := stun.NewTxID()
	buf := make([]byte, 1500)
	for try := 0; try < 20; try++ {
		if _, err := conn.WriteTo(stun.Request(tx), dst); err != nil {
			return err
		}
		conn.SetReadDeadline(time.Now().Add(time.Second))
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			continue
		}
		got, mapped, err := stun.ParseResponse(buf[:n])
		if err != nil {
			return fmt.Errorf("response: %w", err)
		}
		if got != tx {
			return fmt.Errorf("response for another transaction")
		}
		local := conn.LocalAddr().(*net.UDPAddr).AddrPort()
		if mapped.Port() != local.Port() {
			return fmt.Errorf("mapped %v, local port %d", mapped, local.Port())
		}
		log.Printf("PASS stun: reflexive address %v", mapped)
		fmt.Println(mapped)
		return nil
	}
	return fmt.Errorf("no STUN response from %s", addr)
}

// flood: a sends to b as fast as it can for d; prints what b received.
func flood(reg *tailcfg.DERPRegion, d time.Duration, size int) error {
	ctx, cancel := context.WithTimeout(context.Background(), d+time.Minute)
	defer cancel()
	a, b, err := pair(ctx, reg)
	if err != nil {
		return err
	}
	defer a.c.Close()
	defer b.c.Close()
	go func() {
		for range b.pkts {
		}
	}()
	p := make([]byte, size)
	start := time.Now()
	sent := 0
	for time.Since(start) < d {
		if err := a.c.Send(b.pub(), p); err != nil {
			return err
		}
		sent++
	}
	time.Sleep(500 * time.Millisecond) // what is in flight lands; then count
	got := b.recvd.Load()
	secs := time.Since(start).Seconds()
	fmt.Printf("flood: sent %d received %d packets of %d bytes: %.1f Mbit/s relayed\n",
		sent, got, size, float64(got)*float64(size)*8/secs/1e6)
	return nil
}
