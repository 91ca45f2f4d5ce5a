package adbemu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Commands of the adb transport protocol, as the little-endian uint32 of their four
// ASCII letters.
const (
	cmdCNXN = 0x4e584e43
	cmdAUTH = 0x48545541
	cmdOPEN = 0x4e45504f
	cmdOKAY = 0x59414b4f
	cmdCLSE = 0x45534c43
	cmdWRTE = 0x45545257
	cmdSTLS = 0x534c5453
)

const (
	// protocolVersion is A_VERSION_SKIP_CHECKSUM: peers at this version may send a zero
	// data checksum. The emulator still computes it on everything it sends, so older
	// hosts are served too.
	protocolVersion    = 0x01000001
	minProtocolVersion = 0x01000000
	// maxPayload is what the emulator announces and accepts: 256 KiB, adb's MAX_PAYLOAD
	// since protocol version 0x01000001.
	maxPayload = 256 * 1024
	// headerSize is the fixed header in front of every message.
	headerSize = 24
)

// message is one adb transport message: a 24-byte header and a payload.
type message struct {
	command uint32
	arg0    uint32
	arg1    uint32
	data    []byte
}

func commandName(c uint32) string {
	switch c {
	case cmdCNXN, cmdAUTH, cmdOPEN, cmdOKAY, cmdCLSE, cmdWRTE, cmdSTLS:
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], c)
		return string(b[:])
	}
	return fmt.Sprintf("0x%08x", c)
}

func (m message) String() string {
	return fmt.Sprintf("%s(%d, %d, %d bytes)", commandName(m.command), m.arg0, m.arg1, len(m.data))
}

// checksum is adb's data_check: the plain byte sum of the payload.
func checksum(data []byte) uint32 {
	var sum uint32
	for _, b := range data {
		sum += uint32(b)
	}
	return sum
}

// appendMessage encodes m after b. The checksum is always filled in: hosts at
// protocolVersion ignore it and older ones require it.
func appendMessage(b []byte, m message) []byte {
	b = binary.LittleEndian.AppendUint32(b, m.command)
	b = binary.LittleEndian.AppendUint32(b, m.arg0)
	b = binary.LittleEndian.AppendUint32(b, m.arg1)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(m.data)))
	b = binary.LittleEndian.AppendUint32(b, checksum(m.data))
	b = binary.LittleEndian.AppendUint32(b, m.command^0xffffffff)
	return append(b, m.data...)
}

// errMalformed marks a message that breaks the protocol, as opposed to a connection
// that failed; the connection is closed either way but only this is the peer's fault.
var errMalformed = errors.New("malformed message")

// readMessage reads one message whose payload may be at most limit bytes. A header
// that announces more, a bad magic, an unknown command or a wrong non-zero checksum
// is an error wrapping errMalformed; nothing larger than limit is ever allocated.
func readMessage(r io.Reader, limit int) (message, error) {
	var h [headerSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return message{}, err
	}
	m := message{
		command: binary.LittleEndian.Uint32(h[0:]),
		arg0:    binary.LittleEndian.Uint32(h[4:]),
		arg1:    binary.LittleEndian.Uint32(h[8:]),
	}
	length := binary.LittleEndian.Uint32(h[12:])
	sum := binary.LittleEndian.Uint32(h[16:])
	magic := binary.LittleEndian.Uint32(h[20:])
	if magic != m.command^0xffffffff {
		return message{}, fmt.Errorf("%w: magic 0x%08x does not match command 0x%08x", errMalformed, magic, m.command)
	}
	switch m.command {
	case cmdCNXN, cmdAUTH, cmdOPEN, cmdOKAY, cmdCLSE, cmdWRTE, cmdSTLS:
	default:
		return message{}, fmt.Errorf("%w: unknown command %s", errMalformed, commandName(m.command))
	}
	if uint64(length) > uint64(limit) {
		return message{}, fmt.Errorf("%w: %s payload of %d bytes exceeds the limit of %d", errMalformed, commandName(m.command), length, limit)
	}
	if length > 0 {
		m.data = make([]byte, length)
		if _, err := io.ReadFull(r, m.data); err != nil {
			return message{}, fmt.Errorf("%s payload: %w", commandName(m.command), noEOF(err))
		}
	}
	// A zero checksum is what hosts at protocolVersion send; any other value must be right.
	if sum != 0 && sum != checksum(m.data) {
		return message{}, fmt.Errorf("%w: %s checksum 0x%08x, payload sums to 0x%08x", errMalformed, commandName(m.command), sum, checksum(m.data))
	}
	return m, nil
}

// noEOF turns a clean EOF in the middle of a frame into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
