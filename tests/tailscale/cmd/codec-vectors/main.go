// SPDX-License-Identifier: MIT

// codec-vectors checks Hyphae's C codecs (daemon/engine/magicsock: disco,
// DERP frames and info boxes, STUN; daemon/engine/filter: the TSMP reject and
// TCP RST sent for a dropped SYN) against Tailscale's own Go packages:
// tailscale.com/disco, tailscale.com/types/key, tailscale.com/derp,
// tailscale.com/net/stun and tailscale.com/net/packet. Driven by tests/unit/engine/test-codec-interop.c
// over stdin and stdout, in "name value" lines, each block ending in "end":
//
//  1. the C side sends its public keys: c-disco-pub, c-node-pub;
//  2. this program answers with its public keys and packets made by
//     Tailscale's code for the C side to open and parse, with what they hold;
//  3. the C side sends packets it made ("c-…") and what they must hold;
//     this program opens and parses them with Tailscale's code and prints
//     "ok", or the first mismatch and exits 1.
//
// Values are lowercase hex, decimal, or address text ("ip:port" lists joined
// by ","). Private keys never cross: each side keeps its own.
package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"tailscale.com/derp"
	"tailscale.com/disco"
	"tailscale.com/net/packet"
	"tailscale.com/net/stun"
	"tailscale.com/types/ipproto"
	"tailscale.com/types/key"
)

func main() {
	// The C test waits on us: never hang it.
	time.AfterFunc(60*time.Second, func() {
		fmt.Fprintln(os.Stderr, "codec-vectors: timed out waiting for the C side")
		os.Exit(3)
	})
	if err := run(bufio.NewReader(os.Stdin), bufio.NewWriter(os.Stdout)); err != nil {
		fmt.Fprintln(os.Stderr, "codec-vectors:", err)
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("ok")
}

type vals map[string]string

// readBlock reads "name value" lines up to "end".
func readBlock(r *bufio.Reader) (vals, error) {
	v := vals{}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("reading the C side: %v", err)
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "end" {
			return v, nil
		}
		name, value, _ := strings.Cut(line, " ")
		v[name] = value
	}
}

func (v vals) str(name string) string {
	s, ok := v[name]
	if !ok {
		panic(fmt.Errorf("no %q from the C side", name))
	}
	return s
}

func (v vals) bytes(name string) []byte {
	b, err := hex.DecodeString(v.str(name))
	if err != nil {
		panic(fmt.Errorf("%s: %v", name, err))
	}
	return b
}

func (v vals) int(name string) int {
	n, err := strconv.Atoi(v.str(name))
	if err != nil {
		panic(fmt.Errorf("%s: %v", name, err))
	}
	return n
}

// A key in its text form, from raw hex.
func (v vals) key(name, prefix string, k interface{ UnmarshalText([]byte) error }) {
	if err := k.UnmarshalText([]byte(prefix + v.str(name))); err != nil {
		panic(fmt.Errorf("%s: %v", name, err))
	}
}

type writer struct{ w *bufio.Writer }

func (w writer) put(name string, v any) {
	switch v := v.(type) {
	case []byte:
		fmt.Fprintf(w.w, "%s %x\n", name, v)
	case [32]byte:
		fmt.Fprintf(w.w, "%s %x\n", name, v[:])
	default:
		fmt.Fprintf(w.w, "%s %v\n", name, v)
	}
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// sealDisco is what magicsock's sendDiscoMessage puts on the wire:
// magic ‖ sender disco pub ‖ DiscoShared.Seal(message).
func sealDisco(from key.DiscoPrivate, to key.DiscoPublic, m disco.Message) []byte {
	pkt := []byte(disco.Magic)
	pkt = from.Public().AppendTo(pkt)
	return append(pkt, from.Shared(to).Seal(m.AppendMarshal(nil))...)
}

func addrList(l []netip.AddrPort) string {
	s := make([]string, len(l))
	for i, a := range l {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}

func run(r *bufio.Reader, bw *bufio.Writer) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	in, err := readBlock(r)
	if err != nil {
		return err
	}
	var cDiscoPub key.DiscoPublic
	var cNodePub key.NodePublic
	in.key("c-disco-pub", "discokey:", &cDiscoPub)
	in.key("c-node-pub", "nodekey:", &cNodePub)
	goDisco, goNode := key.NewDisco(), key.NewNode()
	emit(writer{bw}, goDisco, goNode, cDiscoPub, cNodePub)
	fmt.Fprintln(bw, "end")
	must(bw.Flush())

	in, err = readBlock(r)
	if err != nil {
		return err
	}
	return check(in, goDisco, goNode, cDiscoPub, cNodePub)
}

// emit writes packets made by Tailscale's code, and what they hold.
func emit(w writer, goDisco key.DiscoPrivate, goNode key.NodePrivate, cDiscoPub key.DiscoPublic,
	cNodePub key.NodePublic) {
	w.put("go-disco-pub", goDisco.Public().Raw32())
	w.put("go-node-pub", goNode.Public().Raw32())

	// Disco, Go → C.
	ping := &disco.Ping{TxID: stun.NewTxID(), NodeKey: goNode.Public(), Padding: 37}
	w.put("disco-ping", sealDisco(goDisco, cDiscoPub, ping))
	w.put("disco-ping-txid", ping.TxID[:])
	w.put("disco-ping-padding", ping.Padding)
	oldPing := &disco.Ping{TxID: stun.NewTxID()} // no node key: clients before 1.16
	w.put("disco-ping-old", sealDisco(goDisco, cDiscoPub, oldPing))
	w.put("disco-ping-old-txid", oldPing.TxID[:])
	for _, v := range []struct{ name, src string }{
		{"disco-pong4", "198.51.100.7:41641"},
		{"disco-pong6", "[2001:db8::7]:3478"},
	} {
		pong := &disco.Pong{TxID: stun.NewTxID(), Src: netip.MustParseAddrPort(v.src)}
		w.put(v.name, sealDisco(goDisco, cDiscoPub, pong))
		w.put(v.name+"-txid", pong.TxID[:])
		w.put(v.name+"-src", v.src)
	}
	cmm := &disco.CallMeMaybe{MyNumber: []netip.AddrPort{
		netip.MustParseAddrPort("192.0.2.10:41641"),
		netip.MustParseAddrPort("[fd7a:115c:a1e0::1]:41641"),
		netip.MustParseAddrPort("10.1.2.3:1"),
	}}
	w.put("disco-cmm", sealDisco(goDisco, cDiscoPub, cmm))
	w.put("disco-cmm-endpoints", addrList(cmm.MyNumber))
	w.put("disco-cmm-empty", sealDisco(goDisco, cDiscoPub, &disco.CallMeMaybe{}))

	// DERP: a ClientInfo-style box from Go's node key to C's, and frames
	// as derp.WriteFrame writes them.
	info := []byte(`{"version":2,"CanAckPings":true}`)
	w.put("derp-info", goNode.SealTo(cNodePub, info))
	w.put("derp-info-plain", info)
	var frames bytes.Buffer
	fw := bufio.NewWriter(&frames)
	pub := goNode.Public().Raw32()
	must(derp.WriteFrame(fw, derp.FrameServerKey, append([]byte(derp.Magic), pub[:]...)))
	must(derp.WriteFrame(fw, derp.FrameKeepAlive, nil))
	must(derp.WriteFrame(fw, derp.FrameRecvPacket, append(pub[:], "hello"...)))
	must(derp.WriteFrame(fw, derp.FramePing, []byte("12345678")))
	w.put("derp-frames", frames.Bytes())

	// STUN: Tailscale's request, and its server's responses.
	tx := stun.NewTxID()
	w.put("stun-txid", tx[:])
	w.put("stun-request", stun.Request(tx))
	for _, v := range []struct{ name, addr string }{
		{"stun-response4", "203.0.113.5:41641"},
		{"stun-response6", "[2001:db8:1::5]:65535"},
	} {
		w.put(v.name, stun.Response(tx, netip.MustParseAddrPort(v.addr)))
		w.put(v.name+"-addr", v.addr)
	}
}

// check opens and parses the C side's packets with Tailscale's code.
func check(v vals, goDisco key.DiscoPrivate, goNode key.NodePrivate, cDiscoPub key.DiscoPublic,
	cNodePub key.NodePublic) error {
	// Disco from C: what magicsock's handleDiscoMessage does before dispatch.
	openDisco := func(name string) disco.Message {
		pkt := v.bytes(name)
		src, ok := disco.Source(pkt)
		if !ok {
			panic(fmt.Errorf("%s: not disco", name))
		}
		if want := cDiscoPub.Raw32(); !bytes.Equal(src, want[:]) {
			panic(fmt.Errorf("%s: sender %x, want C's disco key", name, src))
		}
		hdr := len(disco.Magic) + len(src)
		plain, ok := goDisco.Shared(cDiscoPub).Open(pkt[hdr:])
		if !ok {
			panic(fmt.Errorf("%s: box does not open", name))
		}
		m, err := disco.Parse(plain)
		if err != nil {
			panic(fmt.Errorf("%s: %v", name, err))
		}
		return m
	}
	ping, ok := openDisco("c-disco-ping").(*disco.Ping)
	if !ok || !bytes.Equal(ping.TxID[:], v.bytes("c-disco-ping-txid")) ||
		ping.NodeKey != cNodePub || ping.Padding != v.int("c-disco-ping-padding") {
		return fmt.Errorf("c-disco-ping: got %#v", ping)
	}
	for _, name := range []string{"c-disco-pong4", "c-disco-pong6"} {
		pong, ok := openDisco(name).(*disco.Pong)
		if !ok || !bytes.Equal(pong.TxID[:], v.bytes(name+"-txid")) ||
			pong.Src.String() != v.str(name+"-src") {
			return fmt.Errorf("%s: got %#v", name, pong)
		}
	}
	cmm, ok := openDisco("c-disco-cmm").(*disco.CallMeMaybe)
	if !ok || addrList(cmm.MyNumber) != v.str("c-disco-cmm-endpoints") {
		return fmt.Errorf("c-disco-cmm: got %#v", cmm)
	}

	// A DERP info box from C's node key to Go's.
	plain, ok := goNode.OpenFrom(cNodePub, v.bytes("c-derp-info"))
	if !ok || !bytes.Equal(plain, v.bytes("c-derp-info-plain")) {
		return fmt.Errorf("c-derp-info: opened %v, %q", ok, plain)
	}

	// STUN: Tailscale's server must accept C's request (it demands SOFTWARE
	// and FINGERPRINT), and its client must read C's responses.
	tx, err := stun.ParseBindingRequest(v.bytes("c-stun-request"))
	if err != nil || !bytes.Equal(tx[:], v.bytes("c-stun-txid")) {
		return fmt.Errorf("c-stun-request: %v, txid %x", err, tx)
	}
	for _, name := range []string{"c-stun-response4", "c-stun-response6"} {
		tx, addr, err := stun.ParseResponse(v.bytes(name))
		if err != nil || !bytes.Equal(tx[:], v.bytes("c-stun-txid")) ||
			addr.String() != v.str(name+"-addr") {
			return fmt.Errorf("%s: %v, txid %x, addr %v", name, err, tx, addr)
		}
	}

	// The packet filter's answers to a dropped SYN: the TSMP reject must be
	// the bytes net/tstun/wrap.go makes for it, the RST a RST+ACK back.
	for _, fam := range []string{"4", "6"} {
		var syn, rst packet.Parsed
		syn.Decode(v.bytes("c-syn" + fam))
		want := packet.Generate(packet.TailscaleRejectedHeader{
			IPSrc:  syn.Dst.Addr(),
			IPDst:  syn.Src.Addr(),
			Src:    syn.Src,
			Dst:    syn.Dst,
			Proto:  ipproto.TCP,
			Reason: packet.TailscaleRejectReason(v.int("c-tsmp-reason" + fam)),
		}, nil)
		if got := v.bytes("c-tsmp-reject" + fam); !bytes.Equal(got, want) {
			return fmt.Errorf("c-tsmp-reject%s: %x, want %x", fam, got, want)
		}
		rst.Decode(v.bytes("c-tcp-rst" + fam))
		if rst.IPProto != ipproto.TCP || rst.TCPFlags != packet.TCPRst|packet.TCPAck ||
			rst.Src != syn.Dst || rst.Dst != syn.Src {
			return fmt.Errorf("c-tcp-rst%s: %v %v > %v flags %v", fam, rst.IPProto, rst.Src, rst.Dst,
				rst.TCPFlags)
		}
	}
	return nil
}
