// SPDX-License-Identifier: MIT

package main

// With -state FILE, testcontrol keeps its keys, nodes and users in FILE
// and a restarted one takes them over, as a real control server keeps its
// database: the nodes keep their IDs, and with them their addresses (a new
// testcontrol numbers nodes in the order they register). testcontrol.Server
// keeps all of this in unexported fields; they are reached by name through
// reflect, each checked for its type, so that another tailscale.com version
// that renames or retypes one stops this program at start.

import (
	"bytes"
	"encoding/json"
	"log"
	"os"
	"reflect"
	"sync"
	"time"
	"unsafe"

	"tailscale.com/tailcfg"
	"tailscale.com/tstest/integration/testcontrol"
	"tailscale.com/types/key"
)

type savedState struct {
	NoiseKey  key.MachinePrivate
	LegacyKey key.ControlPrivate
	Nodes     map[key.NodePublic]*tailcfg.Node
	Users     map[key.NodePublic]*tailcfg.User
	Logins    map[key.NodePublic]*tailcfg.Login
}

// serverFields are pointers into one testcontrol.Server's unexported fields
// (testcontrol.go: mu guards the maps; the keys are set once).
type serverFields struct {
	mu        *sync.Mutex
	noisePriv *key.MachinePrivate
	noisePub  *key.MachinePublic
	priv      *key.ControlPrivate
	pub       *key.MachinePublic
	nodes     *map[key.NodePublic]*tailcfg.Node
	users     *map[key.NodePublic]*tailcfg.User
	logins    *map[key.NodePublic]*tailcfg.Login
}

// field points at srv's unexported field name, which must have the type of *T.
func field[T any](srv *testcontrol.Server, name string) *T {
	f := reflect.ValueOf(srv).Elem().FieldByName(name)
	want := reflect.TypeOf((*T)(nil)).Elem()
	if !f.IsValid() || f.Type() != want {
		log.Fatalf("testcontrol.Server has no field %s of type %v: -state does not fit this tailscale.com", name, want)
	}
	return (*T)(unsafe.Pointer(f.UnsafeAddr()))
}

func fieldsOf(srv *testcontrol.Server) *serverFields {
	return &serverFields{
		mu:        field[sync.Mutex](srv, "mu"),
		noisePriv: field[key.MachinePrivate](srv, "noisePrivKey"),
		noisePub:  field[key.MachinePublic](srv, "noisePubKey"),
		priv:      field[key.ControlPrivate](srv, "privKey"),
		pub:       field[key.MachinePublic](srv, "pubKey"),
		nodes:     field[map[key.NodePublic]*tailcfg.Node](srv, "nodes"),
		users:     field[map[key.NodePublic]*tailcfg.User](srv, "users"),
		logins:    field[map[key.NodePublic]*tailcfg.Login](srv, "logins"),
	}
}

// restoreState loads path into srv (before it serves anything), or gives srv
// fresh keys when there is no such file yet; then keeps path up to date.
func restoreState(srv *testcontrol.Server, path string) {
	f := fieldsOf(srv)
	st := savedState{NoiseKey: key.NewMachine(), LegacyKey: key.NewControl()}
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &st); err != nil {
			log.Fatalf("%s: %v", path, err)
		}
		log.Printf("state: %d nodes from %s", len(st.Nodes), path)
	case !os.IsNotExist(err):
		log.Fatal(err)
	}
	*f.noisePriv, *f.noisePub = st.NoiseKey, st.NoiseKey.Public()
	*f.priv, *f.pub = st.LegacyKey, st.LegacyKey.Public()
	if st.Nodes != nil {
		*f.nodes, *f.users, *f.logins = st.Nodes, st.Users, st.Logins
	}
	go f.keepSaved(path, st.NoiseKey, st.LegacyKey)
}

// keepSaved writes the state to path (by rename: a SIGKILL leaves the old
// one or the new one) whenever it changed, checking four times a second.
func (f *serverFields) keepSaved(path string, noise key.MachinePrivate, legacy key.ControlPrivate) {
	var last []byte
	for ; ; time.Sleep(250 * time.Millisecond) {
		st := savedState{NoiseKey: noise, LegacyKey: legacy,
			Nodes:  map[key.NodePublic]*tailcfg.Node{},
			Users:  map[key.NodePublic]*tailcfg.User{},
			Logins: map[key.NodePublic]*tailcfg.Login{}}
		f.mu.Lock()
		for k, n := range *f.nodes {
			st.Nodes[k] = n.Clone()
		}
		for k, u := range *f.users {
			c := *u
			st.Users[k] = &c
		}
		for k, l := range *f.logins {
			c := *l
			st.Logins[k] = &c
		}
		f.mu.Unlock()
		b, err := json.Marshal(&st)
		if err != nil {
			log.Fatalf("state: %v", err)
		}
		if bytes.Equal(b, last) {
			continue
		}
		if err := os.WriteFile(path+".new", b, 0o600); err != nil {
			log.Fatalf("state: %v", err)
		}
		if err := os.Rename(path+".new", path); err != nil {
			log.Fatalf("state: %v", err)
		}
		last = b
	}
}
