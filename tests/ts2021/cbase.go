// SPDX-License-Identifier: MIT

// Shared TS2021 controlbase code (control/controlbase) for the Go test
// programs in this directory: the Noise cipher suite with TS2021's big-endian
// transport nonces, the frame format and the record transport. Each program
// is built from its own file plus this one, e.g.
//
//	go build -o OUT peer.go cbase.go
//	go build -o OUT control.go cbase.go
package main

import (
	"bufio"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"

	"github.com/flynn/noise"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/curve25519"
)

const (
	maxFrame       = 4096
	headerLen      = 3
	tagLen         = 16
	maxPlaintext   = maxFrame - headerLen - tagLen // 4077
	initHeaderLen  = 5
	initPayloadLen = 96
	initLen        = initHeaderLen + initPayloadLen // 101
	respPayloadLen = 48
	msgInitiation  = 1
	msgResponse    = 2
	msgError       = 3
	msgRecord      = 4
	protocolName   = "Noise_IK_25519_ChaChaPoly_BLAKE2s"
	prologuePrefix = "Tailscale Control Protocol v"
)

// progName prefixes fatal messages on stderr; each program's main sets it.
var progName = "ts2021"

// ---- the custom "ChaChaPoly" CipherFunc --------------------------------

// tsChaCha is ChaCha20-Poly1305 with TS2021's nonce: 4 zero bytes ‖ u64
// BIG-endian counter. For n=0 (the only nonce the IK handshake uses) it is
// identical to the Noise spec's little-endian encoding, so the handshake is
// standard Noise; for transport records it is what Tailscale's conn.go does.
type tsChaCha struct {
	aead cipher.AEAD
}

func beNonce(n uint64) []byte {
	var nonce [12]byte
	binary.BigEndian.PutUint64(nonce[4:], n)
	return nonce[:]
}

func leNonce(n uint64) []byte {
	var nonce [12]byte
	binary.LittleEndian.PutUint64(nonce[4:], n)
	return nonce[:]
}

func (c tsChaCha) Encrypt(out []byte, n uint64, ad, plaintext []byte) []byte {
	return c.aead.Seal(out, beNonce(n), plaintext, ad)
}

func (c tsChaCha) Decrypt(out []byte, n uint64, ad, ciphertext []byte) ([]byte, error) {
	return c.aead.Open(out, beNonce(n), ciphertext, ad)
}

type tsChaChaFunc struct{}

func (tsChaChaFunc) Cipher(k [32]byte) noise.Cipher {
	a, err := chacha20poly1305.New(k[:])
	if err != nil {
		panic(err)
	}
	return tsChaCha{aead: a}
}

func (tsChaChaFunc) CipherName() string { return "ChaChaPoly" }

var cipherSuite = noise.NewCipherSuite(noise.DH25519, tsChaChaFunc{}, noise.HashBLAKE2s)

// ---- transport ----------------------------------------------------------

// transport is one direction pair of a finished handshake. Nonces are managed
// here (not by flynn's CipherState) so that a hostile mode can use the wrong
// encoding.
type transport struct {
	conn     net.Conn
	rd       *bufio.Reader
	tx, rx   cipher.AEAD
	txN, rxN uint64
	leTx     bool // hostile: little-endian transmit nonces
}

func aeadOf(cs *noise.CipherState) cipher.AEAD {
	return cs.Cipher().(tsChaCha).aead
}

func (t *transport) sealRecord(pt []byte) []byte {
	if t.txN == ^uint64(0) {
		fatalf("transmit nonce exhausted")
	}
	nonce := beNonce(t.txN)
	if t.leTx {
		nonce = leNonce(t.txN)
	}
	t.txN++
	frame := make([]byte, headerLen, headerLen+len(pt)+tagLen)
	frame[0] = msgRecord
	binary.BigEndian.PutUint16(frame[1:], uint16(len(pt)+tagLen))
	return t.tx.Seal(frame, nonce, pt, nil)
}

// write sends data as records of at most maxPlaintext bytes; an empty
// payload is sent as one empty record.
func (t *transport) write(data []byte) error {
	for {
		n := len(data)
		if n > maxPlaintext {
			n = maxPlaintext
		}
		if _, err := t.conn.Write(t.sealRecord(data[:n])); err != nil {
			return err
		}
		data = data[n:]
		if len(data) == 0 {
			return nil
		}
	}
}

// readFrame reads one frame (header + body); it rejects frames over 4096
// bytes before reading their body.
func readFrame(rd *bufio.Reader) (typ byte, body []byte, err error) {
	var hdr [headerLen]byte
	if _, err = io.ReadFull(rd, hdr[:]); err != nil {
		return 0, nil, err
	}
	l := int(binary.BigEndian.Uint16(hdr[1:]))
	if headerLen+l > maxFrame {
		return hdr[0], nil, fmt.Errorf("frame of %d bytes exceeds %d", headerLen+l, maxFrame)
	}
	body = make([]byte, l)
	if _, err = io.ReadFull(rd, body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return hdr[0], nil, err
	}
	return hdr[0], body, nil
}

// readRecord returns the next record's plaintext; io.EOF at a clean end.
func (t *transport) readRecord() ([]byte, error) {
	typ, body, err := readFrame(t.rd)
	if err != nil {
		return nil, err
	}
	if typ != msgRecord {
		return nil, fmt.Errorf("unexpected frame type %d", typ)
	}
	if len(body) < tagLen {
		return nil, fmt.Errorf("record of %d bytes is shorter than a tag", len(body))
	}
	pt, err := t.rx.Open(nil, beNonce(t.rxN), body, nil)
	if err != nil {
		return nil, fmt.Errorf("record %d: %v", t.rxN, err)
	}
	t.rxN++
	return pt, nil
}

// ---- helpers ------------------------------------------------------------

func fatalf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, progName+": "+format+"\n", args...)
	os.Exit(1)
}

func logf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, progName+": "+format+"\n", args...)
}

func say(format string, args ...interface{}) {
	fmt.Printf(format+"\n", args...) // os.Stdout is unbuffered: one write per line
}

func keyFromHex(name, s string) []byte {
	k, err := hex.DecodeString(s)
	if err != nil || len(k) != 32 {
		fatalf("-%s: want 64 hex digits", name)
	}
	return k
}

func keypair(privHex, name string) noise.DHKey {
	var priv []byte
	if privHex != "" {
		priv = keyFromHex(name, privHex)
	} else {
		priv = make([]byte, 32)
		if _, err := io.ReadFull(rand.Reader, priv); err != nil {
			fatalf("random: %v", err)
		}
	}
	pub, err := curve25519.X25519(priv, curve25519.Basepoint)
	if err != nil {
		fatalf("-%s: %v", name, err)
	}
	return noise.DHKey{Private: priv, Public: pub}
}

func prologue(version uint16) []byte {
	return []byte(prologuePrefix + strconv.Itoa(int(version)))
}

func errorFrame(text string) []byte {
	f := []byte{msgError, 0, 0}
	binary.BigEndian.PutUint16(f[1:], uint16(len(text)))
	return append(f, text...)
}

func checkProtocolName() {
	name := "Noise_IK_" + string(cipherSuite.Name())
	if name != protocolName {
		fatalf("protocol name %q, want %q", name, protocolName)
	}
}

// drain reads until the peer closes, so that our last frame is not lost to a
// reset caused by unread data.
func drain(rd io.Reader) {
	io.Copy(io.Discard, rd)
}
