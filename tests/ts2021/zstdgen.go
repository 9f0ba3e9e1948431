// SPDX-License-Identifier: MIT

// zstdgen writes a map long-poll test stream (control/controlclient/direct.go): JSON
// messages, each one zstd frame made by github.com/klauspost/compress/zstd
// (an encoder nobody on the C side wrote), each behind a u32 LITTLE-endian
// length. A manifest lists, one per line and in stream order, the lowercase
// hex sha256 of each decoded message and its decoded length.
//
// Usage: zstdgen STREAM-FILE MANIFEST-FILE
//
// Built offline in GOPATH mode, like the other programs here:
//
//	env GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$tmp/gocache \
//	    GOFLAGS= GOENV=off GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0 \
//	    go build -o $tmp/zstdgen tests/ts2021/zstdgen.go
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand"
	"os"

	"github.com/klauspost/compress/zstd"
)

type message struct {
	name  string
	plain []byte
	enc   *zstd.Encoder
}

func mustEncoder(opts ...zstd.EOption) *zstd.Encoder {
	opts = append([]zstd.EOption{zstd.WithEncoderConcurrency(1)}, opts...)
	enc, err := zstd.NewWriter(nil, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "zstdgen:", err)
		os.Exit(1)
	}
	return enc
}

// peers returns roughly size bytes of repetitive MapResponse-like JSON.
func peers(size int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"Peers":[`)
	for i := 0; b.Len() < size-200; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"ID":%d,"StableID":"n%06d","Name":"peer-%d.example.ts.net.",`+
			`"Addresses":["100.64.%d.%d/32"],"AllowedIPs":["100.64.%d.%d/32"],"Online":true}`,
			i, i, i, (i>>8)&255, i&255, (i>>8)&255, i&255)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// exactly returns a JSON object of exactly n bytes (n >= 10) with
// poorly compressible content.
func exactly(n int, seed int64) []byte {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	rng := rand.New(rand.NewSource(seed))
	pad := make([]byte, n-len(`{"pad":""}`))
	for i := range pad {
		pad[i] = letters[rng.Intn(len(letters))]
	}
	return []byte(`{"pad":"` + string(pad) + `"}`)
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: zstdgen STREAM-FILE MANIFEST-FILE")
		os.Exit(2)
	}
	plain := mustEncoder()
	// Tailscale's zstdframe: no checksum, content size, zero frames kept.
	tsLike := mustEncoder(zstd.WithEncoderCRC(false), zstd.WithZeroFrames(true),
		zstd.WithEncoderLevel(zstd.SpeedFastest))
	crc := mustEncoder(zstd.WithEncoderCRC(true), zstd.WithEncoderLevel(zstd.SpeedBetterCompression))
	multi := mustEncoder(zstd.WithSingleSegment(false), zstd.WithWindowSize(1<<20))

	big := peers(3 << 20)
	msgs := []message{
		{"keepalive", []byte(`{"KeepAlive":true}`), plain},
		{"empty (no frame: 0-byte message)", nil, plain},
		{"empty (zero frame)", nil, tsLike},
		{"small", []byte(`{"Node":{"ID":1,"Name":"self.example.ts.net."},"Domain":"example.com"}`), tsLike},
		{"3 MiB repetitive", big, plain},
		{"4077 bytes", exactly(4077, 4077), plain},
		{"4077 bytes, checksum", exactly(4077, 7704), crc},
		{"3 MiB repetitive, ts-like", big, tsLike},
		{"3 MiB, multi-segment 1 MiB window", big, multi},
		{"keepalive again", []byte(`{"KeepAlive":true}`), tsLike},
	}

	var stream, manifest bytes.Buffer
	for _, m := range msgs {
		frame := m.enc.EncodeAll(m.plain, nil)
		if uint64(len(frame)) > 16<<20 {
			fmt.Fprintln(os.Stderr, "zstdgen: frame too large:", m.name)
			os.Exit(1)
		}
		var hdr [4]byte
		binary.LittleEndian.PutUint32(hdr[:], uint32(len(frame)))
		stream.Write(hdr[:])
		stream.Write(frame)
		sum := sha256.Sum256(m.plain)
		fmt.Fprintf(&manifest, "%s %d\n", hex.EncodeToString(sum[:]), len(m.plain))
		fmt.Fprintf(os.Stderr, "zstdgen: %-36s %8d -> %7d bytes\n", m.name, len(m.plain), len(frame))
	}
	if err := os.WriteFile(os.Args[1], stream.Bytes(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "zstdgen:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(os.Args[2], manifest.Bytes(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "zstdgen:", err)
		os.Exit(1)
	}
}
