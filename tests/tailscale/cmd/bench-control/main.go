// SPDX-License-Identifier: MIT

// Program bench-control serves Tailscale's own test control server
// (tailscale.com/tstest/integration/testcontrol) on one namespace address, with
// a DERPMap read from a file, for bench/tailscale.  The upstream
// cmd/testcontrol listens on 127.0.0.1 only (cmd/testcontrol/testcontrol.go),
// which other network namespaces cannot reach.
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"os"

	"tailscale.com/tailcfg"
	"tailscale.com/tstest/integration/testcontrol"
)

func main() {
	listen := flag.String("listen", "", "ADDR:PORT to serve control on (required)")
	derpMapFile := flag.String("derp-map", "", "tailcfg.DERPMap as JSON (required; no regions = direct UDP only)")
	flag.Parse()
	if *listen == "" || *derpMapFile == "" {
		log.Fatal("usage: bench-control -listen ADDR:PORT -derp-map FILE")
	}
	raw, err := os.ReadFile(*derpMapFile)
	if err != nil {
		log.Fatal(err)
	}
	dm := new(tailcfg.DERPMap)
	if err := json.Unmarshal(raw, dm); err != nil {
		log.Fatalf("%s: %v", *derpMapFile, err)
	}
	control := &testcontrol.Server{
		DERPMap:          dm,
		ExplicitBaseURL:  "http://" + *listen,
		AllNodesSameUser: true,
		AllOnline:        true,
	}
	log.Printf("LISTEN %s", *listen)
	log.Fatal(http.ListenAndServe(*listen, control))
}
