// SPDX-License-Identifier: MIT

// dns-vectors checks Hyphae's MagicDNS wire code (daemon/engine/dns) against
// golang.org/x/net/dns/dnsmessage, the package Tailscale's resolver
// (net/dns/resolver/tsdns.go) parses and builds DNS messages with. Driven by
// tests/unit/engine/test-dns-interop.c:
//
//	dns-vectors queries   prints "name hex" lines: queries built by
//	                      dnsmessage for the C side to parse and answer
//	dns-vectors parse     reads "name hex" lines (the C side's answers) up
//	                      to "end" and prints "name summary" for each: what
//	                      dnsmessage read in every section, or "error …"
//	dns-vectors packets   the same for whole IP packets (the C side's answer
//	                      packets): decoded by tailscale.com/net/packet, the
//	                      one's complement sums checked here, then the DNS
//	                      payload summarised as above
package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"tailscale.com/net/packet"
	"tailscale.com/types/ipproto"
)

func main() {
	// The C test waits on us: never hang it.
	time.AfterFunc(60*time.Second, func() {
		fmt.Fprintln(os.Stderr, "dns-vectors: timed out")
		os.Exit(3)
	})
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: dns-vectors queries|parse")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "queries":
		err = queries()
	case "parse":
		err = parse(summary)
	case "packets":
		err = parse(packetSummary)
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dns-vectors:", err)
		os.Exit(1)
	}
}

type query struct {
	name   string
	qname  string
	qtype  dnsmessage.Type
	id     uint16
	rd     bool
	opt    int  // UDP size of an OPT, 0: none
	do     bool // DNSSEC OK in the OPT
	extraA bool // an A record in the additional section, its name compressed
}

func build(q query) ([]byte, error) {
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: q.id, RecursionDesired: q.rd})
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	name := dnsmessage.MustNewName(q.qname)
	if err := b.Question(dnsmessage.Question{Name: name, Type: q.qtype, Class: dnsmessage.ClassINET}); err != nil {
		return nil, err
	}
	if err := b.StartAdditionals(); err != nil {
		return nil, err
	}
	if q.extraA {
		h := dnsmessage.ResourceHeader{Name: name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 1}
		if err := b.AResource(h, dnsmessage.AResource{A: [4]byte{192, 0, 2, 1}}); err != nil {
			return nil, err
		}
	}
	if q.opt != 0 {
		var h dnsmessage.ResourceHeader
		if err := h.SetEDNS0(q.opt, dnsmessage.RCodeSuccess, q.do); err != nil {
			return nil, err
		}
		if err := b.OPTResource(h, dnsmessage.OPTResource{}); err != nil {
			return nil, err
		}
	}
	return b.Finish()
}

func queries() error {
	for _, q := range []query{
		{name: "a-opt", qname: "laptop.tail1234.ts.net.", qtype: dnsmessage.TypeA, id: 0x1234, rd: true, opt: 4096, do: true},
		{name: "aaaa-case", qname: "LapTop.TAIL1234.ts.net.", qtype: dnsmessage.TypeAAAA, id: 7},
		{name: "ptr4", qname: "1.0.64.100.in-addr.arpa.", qtype: dnsmessage.TypePTR, id: 9, rd: true, opt: 1232},
		{name: "txt", qname: "laptop.tail1234.ts.net.", qtype: dnsmessage.TypeTXT, id: 10, rd: true},
		{name: "nx", qname: "nobody.tail1234.ts.net.", qtype: dnsmessage.TypeA, id: 11, rd: true, opt: 512},
		{name: "compressed", qname: "laptop.tail1234.ts.net.", qtype: dnsmessage.TypeA, id: 12, extraA: true, opt: 600},
	} {
		msg, err := build(q)
		if err != nil {
			return fmt.Errorf("%s: %v", q.name, err)
		}
		fmt.Println(q.name, hex.EncodeToString(msg))
	}
	return nil
}

func flags(h dnsmessage.Header) string {
	var f []string
	for _, x := range []struct {
		on   bool
		name string
	}{{h.Response, "qr"}, {h.Authoritative, "aa"}, {h.Truncated, "tc"}, {h.RecursionDesired, "rd"},
		{h.RecursionAvailable, "ra"}, {h.AuthenticData, "ad"}, {h.CheckingDisabled, "cd"}} {
		if x.on {
			f = append(f, x.name)
		}
	}
	return strings.Join(f, ",")
}

func record(r dnsmessage.Resource) string {
	h := r.Header
	switch b := r.Body.(type) {
	case *dnsmessage.AResource:
		return fmt.Sprintf("%s A %d %s", h.Name, h.TTL, netip.AddrFrom4(b.A))
	case *dnsmessage.AAAAResource:
		return fmt.Sprintf("%s AAAA %d %s", h.Name, h.TTL, netip.AddrFrom16(b.AAAA))
	case *dnsmessage.PTRResource:
		return fmt.Sprintf("%s PTR %d %s", h.Name, h.TTL, b.PTR)
	case *dnsmessage.SOAResource:
		return fmt.Sprintf("%s SOA %d %s %s %d %d %d %d %d", h.Name, h.TTL, b.NS, b.MBox, b.Serial,
			b.Refresh, b.Retry, b.Expire, b.MinTTL)
	case *dnsmessage.OPTResource:
		return fmt.Sprintf("OPT size=%d do=%t ext=%d opts=%d", h.Class, h.DNSSECAllowed(),
			h.ExtendedRCode(0)>>4, len(b.Options))
	default:
		return fmt.Sprintf("%s %v %d ?", h.Name, h.Type, h.TTL)
	}
}

func section(rs []dnsmessage.Resource) string {
	var s []string
	for _, r := range rs {
		s = append(s, record(r))
	}
	return "[" + strings.Join(s, "; ") + "]"
}

func summary(msg []byte) string {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return "error " + err.Error()
	}
	qs, err := p.AllQuestions()
	if err != nil {
		return "error questions: " + err.Error()
	}
	an, err := p.AllAnswers()
	if err != nil {
		return "error answers: " + err.Error()
	}
	ns, err := p.AllAuthorities()
	if err != nil {
		return "error authorities: " + err.Error()
	}
	ar, err := p.AllAdditionals()
	if err != nil {
		return "error additionals: " + err.Error()
	}
	var q []string
	for _, x := range qs {
		q = append(q, fmt.Sprintf("%s %v", x.Name, x.Type))
	}
	return fmt.Sprintf("id=%d rcode=%d flags=%s q=[%s] an=%s ns=%s ar=%s", h.ID, h.RCode&0xf, flags(h),
		strings.Join(q, "; "), section(an), section(ns), section(ar))
}

// sum is the RFC 1071 sum of b added to s, not folded.
func sum(s uint32, b []byte) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	return s
}

func folded(s uint32) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

func packetSummary(pkt []byte) string {
	var p packet.Parsed
	p.Decode(pkt)
	if p.IPProto != ipproto.UDP {
		return fmt.Sprintf("error not UDP: %v", p.IPProto)
	}
	ipOK := true
	// Our answers carry no IPv4 options or IPv6 extension headers.
	hdr := pkt[:20]
	if p.IPVersion == 6 {
		hdr = pkt[:40]
	}
	if p.IPVersion == 4 {
		ipOK = folded(sum(0, hdr)) == 0xffff
	}
	udp := pkt[len(hdr):]
	src, dst := p.Src.Addr().AsSlice(), p.Dst.Addr().AsSlice()
	ps := sum(sum(0, src), dst) + 17 + uint32(len(udp))
	udpOK := folded(sum(ps, udp)) == 0xffff && (udp[6] != 0 || udp[7] != 0)
	ttl := pkt[8]
	if p.IPVersion == 6 {
		ttl = pkt[7]
	}
	return fmt.Sprintf("v%d %v > %v ttl=%d len=%d ipsum=%t udpsum=%t %s", p.IPVersion, p.Src, p.Dst,
		ttl, len(p.Buffer()), ipOK, udpOK, summary(p.Payload()))
}

func parse(summary func([]byte) string) error {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	for in.Scan() {
		line := strings.TrimSpace(in.Text())
		if line == "end" {
			return nil
		}
		name, hx, ok := strings.Cut(line, " ")
		if !ok {
			return fmt.Errorf("bad line %q", line)
		}
		msg, err := hex.DecodeString(hx)
		if err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		fmt.Println(name, summary(msg))
	}
	return fmt.Errorf("no \"end\" line")
}
