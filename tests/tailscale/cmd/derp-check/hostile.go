// SPDX-License-Identifier: MIT

package main

// derp-check hostile: raw clients that break the rules, and a client that
// never reads, against a server that must close only them, keep relaying for
// the others, and count what happened on its metrics endpoint.

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"tailscale.com/derp"
	"tailscale.com/tailcfg"
	"tailscale.com/types/key"
)

// dialRaw opens a TCP (and for https, TLS without checks) connection to the URL's host.
func dialRaw(rawURL string) (net.Conn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	nc, err := net.DialTimeout("tcp", u.Host, wait)
	if err != nil {
		return nil, err
	}
	if u.Scheme == "https" {
		tc := tls.Client(nc, &tls.Config{InsecureSkipVerify: true, ServerName: u.Hostname()})
		if err := tc.Handshake(); err != nil {
			nc.Close()
			return nil, err
		}
		return tc, nil
	}
	return nc, nil
}

// upgrade sends the request a derphttp client sends and reads the 101 and the ServerKey frame.
func upgrade(nc net.Conn, br *bufio.Reader) error {
	nc.SetDeadline(time.Now().Add(wait))
	defer nc.SetDeadline(time.Time{})
	if _, err := io.WriteString(nc, "GET /derp HTTP/1.1\r\nHost: derp\r\nConnection: Upgrade\r\nUpgrade: DERP\r\n\r\n"); err != nil {
		return err
	}
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	if res.StatusCode != 101 || res.Header.Get("Derp-Version") != "2" || len(res.Header.Get("Derp-Public-Key")) != 64 {
		return fmt.Errorf("upgrade answered %s %v", res.Status, res.Header)
	}
	return nil
}

// expectClosed: the server closes nc (EOF or reset) before the deadline.
func expectClosed(what string, nc net.Conn, br io.Reader) error {
	nc.SetReadDeadline(time.Now().Add(wait))
	_, err := io.Copy(io.Discard, br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%s: the server kept the connection open", what)
	}
	log.Printf("PASS %s: the server closed the connection", what)
	return nil
}

// loginRaw: a DERP login by Tailscale's own derp.Client over a raw connection.
func loginRaw(rawURL string, priv key.NodePrivate) (net.Conn, *derp.Client, error) {
	nc, err := dialRaw(rawURL)
	if err != nil {
		return nil, nil, err
	}
	br := bufio.NewReader(nc)
	if err := upgrade(nc, br); err != nil {
		nc.Close()
		return nil, nil, err
	}
	c, err := derp.NewClient(priv, nc, bufio.NewReadWriter(br, bufio.NewWriter(nc)), log.Printf)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, c, nil
}

func metrics(metricsURL string) (map[string]float64, error) {
	hc := &http.Client{Timeout: wait, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	res, err := hc.Get(metricsURL)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != 200 {
		return nil, fmt.Errorf("metrics: %v %v", res.Status, err)
	}
	m := map[string]float64{}
	line := regexp.MustCompile(`^([a-z_]+(?:\{[^}]*\})?) ([0-9.e+]+)$`)
	for _, l := range strings.Split(string(body), "\n") {
		if sm := line.FindStringSubmatch(l); sm != nil {
			v, _ := strconv.ParseFloat(sm[2], 64)
			m[sm[1]] = v
		}
	}
	return m, nil
}

func checkHostile(reg *tailcfg.DERPRegion, rawURL, metricsURL string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	before, err := metrics(metricsURL)
	if err != nil {
		return err
	}

	// Junk where the HTTP request should be.
	nc, err := dialRaw(rawURL)
	if err != nil {
		return err
	}
	io.WriteString(nc, "\x16\x03\x01 not http at all\r\n\r\n")
	br := bufio.NewReader(nc)
	if res, err := http.ReadResponse(br, nil); err != nil || res.StatusCode != 400 {
		return fmt.Errorf("junk request: %v %v", res, err)
	}
	if err := expectClosed("junk before the upgrade", nc, br); err != nil {
		return err
	}
	nc.Close()

	// A request that never ends its headers.
	nc, err = dialRaw(rawURL)
	if err != nil {
		return err
	}
	io.WriteString(nc, "GET /derp HTTP/1.1\r\nX-Long: "+strings.Repeat("a", 9000))
	if err := expectClosed("an endless request header", nc, nc); err != nil {
		return err
	}
	nc.Close()

	// A ClientInfo whose box does not open with the key it names.
	nc, err = dialRaw(rawURL)
	if err != nil {
		return err
	}
	br = bufio.NewReader(nc)
	if err := upgrade(nc, br); err != nil {
		return err
	}
	if t, l, err := derp.ReadFrameHeader(br); err != nil || t != derp.FrameServerKey || l < 40 {
		return fmt.Errorf("ServerKey: %v %v %v", t, l, err)
	}
	bogus := make([]byte, 5+32+24+40)
	bogus[0] = byte(derp.FrameClientInfo)
	bogus[4] = byte(len(bogus) - 5)
	rand.Read(bogus[5:])
	nc.Write(bogus)
	if err := expectClosed("a ClientInfo that does not open", nc, br); err != nil {
		return err
	}
	nc.Close()

	// Logged in, then a frame header announcing 2 GiB.
	nc, c, err := loginRaw(rawURL, key.NewNode())
	if err != nil {
		return err
	}
	nc.Write([]byte{byte(derp.FrameSendPacket), 0x80, 0, 0, 0})
	if err := expectClosed("a 2 GiB frame header", nc, nc); err != nil {
		return err
	}
	nc.Close()
	_ = c

	// An unknown frame is skipped: the connection still answers a ping.
	a, b, err := pair(ctx, reg)
	if err != nil {
		return err
	}
	defer a.c.Close()
	defer b.c.Close()
	nc, c, err = loginRaw(rawURL, key.NewNode())
	if err != nil {
		return err
	}
	unknown := append([]byte{0x7e, 0, 0, 1, 0}, make([]byte, 256)...)
	nc.Write(unknown)
	c.SendPing([8]byte{1, 2, 3, 4, 5, 6, 7, 8})
	nc.SetReadDeadline(time.Now().Add(wait))
	for {
		m, err := c.Recv()
		if err != nil {
			return fmt.Errorf("after an unknown frame: %w", err)
		}
		if p, ok := m.(derp.PongMessage); ok && p == [8]byte{1, 2, 3, 4, 5, 6, 7, 8} {
			break
		}
	}
	log.Printf("PASS an unknown frame is skipped: the ping after it has its pong")
	nc.Close()

	// A client that never reads: a floods it, and a and b keep talking meanwhile.
	slowPriv := key.NewNode()
	slowNC, _, err := loginRaw(rawURL, slowPriv)
	if err != nil {
		return err
	}
	defer slowNC.Close()
	floodDone := make(chan error, 1)
	go func() {
		big := make([]byte, derp.MaxPacketSize)
		for range 2000 {
			if err := a.c.Send(slowPriv.Public(), big); err != nil {
				floodDone <- err
				return
			}
		}
		floodDone <- nil
	}()
	if err := exchange(a, b, 300); err != nil {
		return fmt.Errorf("beside a slow reader: %w", err)
	}
	if err := <-floodDone; err != nil {
		return fmt.Errorf("flood: %w", err)
	}
	log.Printf("PASS a slow reader: 300 packets each way between two others meanwhile, contents checked")

	// The server is still up, and counted all of it.
	c2, err := newClient(ctx, "late", reg, key.NewNode())
	if err != nil {
		return fmt.Errorf("after it all: %w", err)
	}
	c2.c.Close()
	after, err := metrics(metricsURL)
	if err != nil {
		return err
	}
	grew := func(name string) bool { return after[name] > before[name] }
	for _, name := range []string{"derp_http_bad_requests_total", "derp_bad_client_info_total", "derp_bad_frames_total", "derp_unknown_frames_total"} {
		if !grew(name) {
			return fmt.Errorf("metrics: %s did not grow (%v → %v)", name, before[name], after[name])
		}
	}
	if !grew(`derp_packets_dropped_total{reason="queue_full"}`) && !grew("derp_write_timeouts_total") {
		return fmt.Errorf("metrics: the slow reader cost no drop and no write timeout")
	}
	log.Printf("PASS metrics: bad requests %v, bad ClientInfo %v, bad frames %v, unknown frames %v, queue-full drops %v, write timeouts %v",
		after["derp_http_bad_requests_total"], after["derp_bad_client_info_total"], after["derp_bad_frames_total"],
		after["derp_unknown_frames_total"], after[`derp_packets_dropped_total{reason="queue_full"}`], after["derp_write_timeouts_total"])
	return nil
}

// printMetrics: GET a metrics URL (TLS unchecked) and print the body's status line.
func printMetrics(metricsURL string) error {
	m, err := metrics(metricsURL)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stdout, "clients %v relayed packets %v bytes %v\n", m["derp_current_clients"], m["derp_packets_relayed_total"], m["derp_bytes_relayed_total"])
	return nil
}
