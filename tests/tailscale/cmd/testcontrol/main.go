// SPDX-License-Identifier: MIT

// Command testcontrol serves Tailscale's own test control server
// (tailscale.com/tstest/integration/testcontrol) on one address of a network
// namespace, for the real-peer tests (tests/integration/ts-*.sh).
//
//	testcontrol -listen 10.210.0.1:9911 -derp-map derpmap.json [-auth-key K] [-state FILE]
//
// It prints "LISTEN http://ADDR" on stdout once it accepts connections.
//
// Test hooks live under /hyphae-test/ and are answered here, before the
// control server sees the request (testcontrol panics on any path it does not
// know):
//
//	GET  /hyphae-test/nodes                  every node as tailcfg.Node JSON (an array)
//	GET  /hyphae-test/map-polls              {"nodekey:…": N}: map requests each node made
//	                                         to this process
//	POST /hyphae-test/node                   body: a tailcfg.Node; add or replace it
//	POST /hyphae-test/fake-node              add a node with random keys (AddFakeNode)
//	POST /hyphae-test/routes?node=NODEKEY    body: ["10.1.0.0/24", ...]; the node's subnet routes
//	POST /hyphae-test/map-response?node=NODEKEY
//	                                         body: a tailcfg.MapResponse, sent as is to the
//	                                         node's map stream (from then on that node gets no
//	                                         automatic map responses: testcontrol's rule)
//	GET  /hyphae-test/derp-map               the DERP map sent now
//	POST /hyphae-test/derp-map               body: a tailcfg.DERPMap; every node gets it
//	POST /hyphae-test/masquerade             body: [{"Node":"nodekey:…","Peer":"nodekey:…",
//	                                         "NodeMasqueradesAs":"100.99.0.1"}, ...]; Node is known
//	                                         to Peer by that address (SetMasqueradeAddresses:
//	                                         Node's netmap gets SelfNodeV4/V6MasqAddrForThisPeer
//	                                         on Peer, Peer's sees it as Node's address); [] clears
//	POST /hyphae-test/remove?node=NODEKEY    every other node with a map stream gets a raw
//	                                         MapResponse with PeersRemoved (testcontrol has
//	                                         no RemoveNode; the same rule on automatic
//	                                         responses applies to those nodes)
//
// The server keeps everything in memory, its keys included: a restarted
// testcontrol is a new control server that knows no node, unless -state names
// a file it keeps them in (state.go).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"tailscale.com/tailcfg"
	"tailscale.com/tstest/integration/testcontrol"
	"tailscale.com/types/key"
)

const hookPrefix = "/hyphae-test/"

// A body larger than this is refused (a DERP map or MapResponse of a test
// tailnet is a few KiB).
const maxHookBody = 4 << 20

type hooks struct {
	srv *testcontrol.Server

	mu     sync.Mutex
	routes map[key.NodePublic][]netip.Prefix // as last set through the routes hook
	polls  map[key.NodePublic]int
}

func main() {
	listen := flag.String("listen", "", "address to serve on, IP:PORT (required)")
	derpMapFile := flag.String("derp-map", "", "tailcfg.DERPMap JSON file sent to every node (default: a map with no regions, direct UDP only)")
	authKey := flag.String("auth-key", "", "the auth key nodes must register with (default: any)")
	verbose := flag.Bool("verbose", false, "log every register and map request")
	statePath := flag.String("state", "", "keep keys, nodes and users in this file and start from it")
	flag.Parse()
	if *listen == "" || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	log.SetFlags(log.Ltime | log.Lmicroseconds)

	// A nil DERPMap would make tailscaled publish no endpoints at all; an
	// empty one means "no relays, direct UDP only".
	dm := &tailcfg.DERPMap{Regions: map[int]*tailcfg.DERPRegion{}}
	if *derpMapFile != "" {
		b, err := os.ReadFile(*derpMapFile)
		if err != nil {
			log.Fatal(err)
		}
		dm, err = decodeDERPMap(b)
		if err != nil {
			log.Fatalf("%s: %v", *derpMapFile, err)
		}
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	srv := &testcontrol.Server{
		DERPMap:          dm,
		ExplicitBaseURL:  "http://" + ln.Addr().String(),
		RequireAuthKey:   *authKey,
		AllNodesSameUser: true,
		// Peers marked online: tailscaled takes some disco-key fast paths only
		// for online peers (testcontrol.go, AllOnline).
		AllOnline: true,
		Verbose:   *verbose,
		Logf:      log.Printf,
	}
	if *statePath != "" {
		restoreState(srv, *statePath)
	}
	h := &hooks{srv: srv, routes: map[key.NodePublic][]netip.Prefix{}, polls: map[key.NodePublic]int{}}
	// Called with the server's lock held: only h's own state is touched.
	srv.SetOnMapRequest(func(k key.NodePublic) {
		h.mu.Lock()
		h.polls[k]++
		h.mu.Unlock()
	})
	mux := http.NewServeMux()
	mux.HandleFunc(hookPrefix, h.serve)
	mux.Handle("/", srv)

	go func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
		<-ch
		os.Exit(0)
	}()
	fmt.Printf("LISTEN %s\n", srv.ExplicitBaseURL)
	log.Fatal(http.Serve(ln, mux))
}

func decodeDERPMap(b []byte) (*tailcfg.DERPMap, error) {
	dm := new(tailcfg.DERPMap)
	if err := json.Unmarshal(b, dm); err != nil {
		return nil, err
	}
	if dm.Regions == nil {
		dm.Regions = map[int]*tailcfg.DERPRegion{}
	}
	return dm, nil
}

func (h *hooks) serve(w http.ResponseWriter, r *http.Request) {
	var body []byte
	if r.Method == http.MethodPost {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, maxHookBody+1))
		if err != nil || len(body) > maxHookBody {
			http.Error(w, "body unreadable or too large", http.StatusBadRequest)
			return
		}
	}
	var out any
	var err error
	switch r.Method + " " + r.URL.Path[len(hookPrefix):] {
	case "GET nodes":
		out = h.srv.AllNodes()
	case "GET map-polls":
		h.mu.Lock()
		polls := map[string]int{}
		for k, n := range h.polls {
			polls[k.String()] = n
		}
		h.mu.Unlock()
		out = polls
	case "POST node":
		err = h.addNode(body)
	case "POST fake-node":
		h.srv.AddFakeNode()
	case "POST routes":
		err = h.setRoutes(r.FormValue("node"), body)
	case "POST map-response":
		err = h.pushMapResponse(r.FormValue("node"), body)
	case "GET derp-map":
		out = h.srv.DERPMap
	case "POST derp-map":
		err = h.setDERPMap(body)
	case "POST masquerade":
		err = h.setMasquerade(body)
	case "POST remove":
		err = h.remove(r.FormValue("node"))
	default:
		http.Error(w, "no such hook", http.StatusNotFound)
		return
	}
	if err != nil {
		log.Printf("hook %s %s: %v", r.Method, r.URL.Path, err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if out == nil {
		out = struct{}{}
	}
	json.NewEncoder(w).Encode(out)
}

func (h *hooks) node(k string) (*tailcfg.Node, error) {
	var nk key.NodePublic
	if err := nk.UnmarshalText([]byte(k)); err != nil {
		return nil, fmt.Errorf("node %q: %v", k, err)
	}
	n := h.srv.Node(nk)
	if n == nil {
		return nil, fmt.Errorf("no node %s", k)
	}
	return n, nil
}

func (h *hooks) addNode(body []byte) error {
	n := new(tailcfg.Node)
	if err := json.Unmarshal(body, n); err != nil {
		return err
	}
	if n.Key.IsZero() {
		return errors.New("node has no Key")
	}
	h.srv.UpdateNode(n)
	return nil
}

func (h *hooks) setRoutes(k string, body []byte) error {
	n, err := h.node(k)
	if err != nil {
		return err
	}
	var routes []netip.Prefix
	if err := json.Unmarshal(body, &routes); err != nil {
		return err
	}
	h.mu.Lock()
	h.routes[n.Key] = routes
	h.mu.Unlock()
	h.srv.SetSubnetRoutes(n.Key, routes)
	return nil
}

func (h *hooks) setMasquerade(body []byte) error {
	var pairs []testcontrol.MasqueradePair
	if err := json.Unmarshal(body, &pairs); err != nil {
		return err
	}
	for _, p := range pairs {
		if p.Node.IsZero() || p.Peer.IsZero() || !p.NodeMasqueradesAs.IsValid() {
			return errors.New("a pair needs Node, Peer and NodeMasqueradesAs")
		}
	}
	h.srv.SetMasqueradeAddresses(pairs)
	return nil
}

func (h *hooks) pushMapResponse(k string, body []byte) error {
	n, err := h.node(k)
	if err != nil {
		return err
	}
	mr := new(tailcfg.MapResponse)
	if err := json.Unmarshal(body, mr); err != nil {
		return err
	}
	if !h.srv.AddRawMapResponse(n.Key, mr) {
		return fmt.Errorf("node %s has no map stream", k)
	}
	return nil
}

// setDERPMap swaps the map every MapResponse carries, then makes every node's
// stream send a fresh one: SetSubnetRoutes with the routes a node already has
// notifies that node and all others, and (unlike UpdateNode) cannot overwrite
// endpoints a node reports meanwhile. testcontrol reads the DERPMap field
// without a lock; a test swaps it rarely, between map responses.
func (h *hooks) setDERPMap(body []byte) error {
	dm, err := decodeDERPMap(body)
	if err != nil {
		return err
	}
	h.srv.DERPMap = dm
	nodes := h.srv.AllNodes()
	if len(nodes) == 0 {
		return nil
	}
	h.mu.Lock()
	routes := h.routes[nodes[0].Key]
	h.mu.Unlock()
	h.srv.SetSubnetRoutes(nodes[0].Key, routes)
	return nil
}

func (h *hooks) remove(k string) error {
	gone, err := h.node(k)
	if err != nil {
		return err
	}
	for _, n := range h.srv.AllNodes() {
		if n.Key == gone.Key {
			continue
		}
		mr := &tailcfg.MapResponse{PeersRemoved: []tailcfg.NodeID{gone.ID}}
		if !h.srv.AddRawMapResponse(n.Key, mr) {
			log.Printf("remove %s: node %s has no map stream", k, n.Key.ShortString())
		}
	}
	return nil
}
