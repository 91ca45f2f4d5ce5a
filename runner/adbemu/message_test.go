package adbemu

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

func TestMessageRoundTrip(t *testing.T) {
	tests := []message{
		{command: cmdCNXN, arg0: protocolVersion, arg1: maxPayload, data: []byte("host::features=shell_v2")},
		{command: cmdOPEN, arg0: 7, data: []byte("shell,v2,raw:getprop\x00")},
		{command: cmdOKAY, arg0: 1, arg1: 7},
		{command: cmdWRTE, arg0: 1, arg1: 7, data: bytes.Repeat([]byte{0xff}, maxPayload)},
		{command: cmdCLSE, arg1: 7},
	}
	for _, want := range tests {
		t.Run(commandName(want.command), func(t *testing.T) {
			b := appendMessage(nil, want)
			if len(b) != headerSize+len(want.data) {
				t.Fatalf("encoded %d bytes, want %d", len(b), headerSize+len(want.data))
			}
			if got := binary.LittleEndian.Uint32(b[16:]); got != checksum(want.data) {
				t.Errorf("data_check = %d, want %d", got, checksum(want.data))
			}
			if got := binary.LittleEndian.Uint32(b[20:]); got != want.command^0xffffffff {
				t.Errorf("magic = 0x%08x", got)
			}
			got, err := readMessage(bytes.NewReader(b), maxPayload)
			if err != nil {
				t.Fatal(err)
			}
			if got.command != want.command || got.arg0 != want.arg0 || got.arg1 != want.arg1 || !bytes.Equal(got.data, want.data) {
				t.Errorf("decoded %v, want %v", got, want)
			}
		})
	}
}

func TestChecksum(t *testing.T) {
	tests := []struct {
		data []byte
		want uint32
	}{
		{nil, 0},
		{[]byte("A"), 65},
		{[]byte{0xff, 0xff, 0x01}, 511},
		{bytes.Repeat([]byte{0xff}, 1<<20), 255 << 20},
	}
	for _, tt := range tests {
		if got := checksum(tt.data); got != tt.want {
			t.Errorf("checksum(%d bytes) = %d, want %d", len(tt.data), got, tt.want)
		}
	}
}

// header builds a raw header whose fields a test can break one by one.
func header(command, arg0, arg1, length, sum, magic uint32) []byte {
	var b []byte
	for _, v := range []uint32{command, arg0, arg1, length, sum, magic} {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
}

func TestReadMessageErrors(t *testing.T) {
	good := appendMessage(nil, message{command: cmdWRTE, arg0: 1, arg1: 2, data: []byte("abc")})
	zeroSum := append(header(cmdWRTE, 1, 2, 3, 0, cmdWRTE^0xffffffff), "abc"...)
	tests := []struct {
		name      string
		in        []byte
		malformed bool // else an I/O error
		ok        bool
	}{
		{"good", good, false, true},
		{"zero checksum is accepted", zeroSum, false, true},
		{"bad magic", append(header(cmdWRTE, 1, 2, 3, 294, 0), "abc"...), true, false},
		{"unknown command", header(0x41414141, 0, 0, 0, 0, 0x41414141^0xffffffff), true, false},
		{"wrong checksum", append(header(cmdWRTE, 1, 2, 3, 1, cmdWRTE^0xffffffff), "abc"...), true, false},
		{"oversized payload", header(cmdWRTE, 1, 2, maxPayload+1, 0, cmdWRTE^0xffffffff), true, false},
		{"huge payload", header(cmdWRTE, 1, 2, 0xffffffff, 0, cmdWRTE^0xffffffff), true, false},
		{"short header", good[:10], false, false},
		{"short payload", good[:len(good)-1], false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readMessage(bytes.NewReader(tt.in), maxPayload)
			switch {
			case tt.ok && err != nil:
				t.Fatalf("unexpected error %v", err)
			case !tt.ok && err == nil:
				t.Fatal("no error")
			case !tt.ok && errors.Is(err, errMalformed) != tt.malformed:
				t.Fatalf("error %v: malformed = %v, want %v", err, errors.Is(err, errMalformed), tt.malformed)
			}
		})
	}
	if _, err := readMessage(bytes.NewReader(good[:len(good)-1]), maxPayload); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated payload: %v, want io.ErrUnexpectedEOF", err)
	}
}

func FuzzReadMessage(f *testing.F) {
	f.Add(appendMessage(nil, message{command: cmdCNXN, arg0: protocolVersion, arg1: maxPayload, data: []byte("host::")}))
	f.Add(appendMessage(nil, message{command: cmdOPEN, arg0: 1, data: []byte("sync:\x00")}))
	f.Add(header(cmdWRTE, 1, 2, 0xffffffff, 0, cmdWRTE^0xffffffff))
	f.Add([]byte("CNXN"))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := readMessage(bytes.NewReader(in), 4096)
		if err != nil {
			return
		}
		if len(m.data) > 4096 {
			t.Fatalf("payload of %d bytes passed a limit of 4096", len(m.data))
		}
		// What was accepted re-encodes to the same bytes, but for a zero checksum.
		out := appendMessage(nil, m)
		if sum := binary.LittleEndian.Uint32(in[16:]); sum == 0 {
			binary.LittleEndian.PutUint32(out[16:], 0)
		}
		if !bytes.Equal(out, in[:len(out)]) {
			t.Fatalf("re-encoded %x, read from %x", out, in[:len(out)])
		}
	})
}
