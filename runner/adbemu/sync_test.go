package adbemu

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseSendSpec(t *testing.T) {
	tests := []struct {
		spec    string
		name    string
		mode    uint32
		wantErr bool
	}{
		{"/data/local/tmp/a,33188", "/data/local/tmp/a", 33188, false},
		{"/data/local/tmp/a,b,c,420", "/data/local/tmp/a,b,c", 420, false},
		{"/data/local/tmp/a", "", 0, true},
		{"/data/local/tmp/a,", "", 0, true},
		{"/data/local/tmp/a,0x1a4", "", 0, true},
		{"/data/local/tmp/a,99999999999", "", 0, true},
		{",420", "", 0, true},
	}
	for _, tt := range tests {
		name, mode, err := parseSendSpec(tt.spec)
		if (err != nil) != tt.wantErr || name != tt.name || mode != tt.mode {
			t.Errorf("parseSendSpec(%q) = %q, %d, %v; want %q, %d, error %v", tt.spec, name, mode, err, tt.name, tt.mode, tt.wantErr)
		}
	}
}

func TestRootPath(t *testing.T) {
	tests := []struct{ device, want string }{
		{"/", "."},
		{"", "."},
		{"/data/local/tmp/x", "data/local/tmp/x"},
		{"data/local/tmp/x", "data/local/tmp/x"},
		{"/../../etc/passwd", "etc/passwd"},
		{"/data/../../../etc", "etc"},
		{"/data//local/./tmp/", "data/local/tmp"},
	}
	for _, tt := range tests {
		if got := rootPath(tt.device); got != tt.want {
			t.Errorf("rootPath(%q) = %q, want %q", tt.device, got, tt.want)
		}
	}
}

// syncClient drives serveSync over an in-memory connection, as adb's client does.
type syncClient struct {
	t    *testing.T
	conn net.Conn
	done chan error
}

func newSyncClient(t *testing.T, root *os.Root) *syncClient {
	client, server := net.Pipe()
	c := &syncClient{t: t, conn: client, done: make(chan error, 1)}
	go func() {
		c.done <- serveSync(root, server)
		server.Close()
	}()
	t.Cleanup(func() { client.Close() })
	client.SetDeadline(time.Now().Add(20 * time.Second))
	return c
}

func (c *syncClient) request(id uint32, payload string) {
	c.t.Helper()
	b := binary.LittleEndian.AppendUint32(nil, id)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	if _, err := c.conn.Write(append(b, payload...)); err != nil {
		c.t.Fatalf("write request: %v", err)
	}
}

func (c *syncClient) uint32s(n int) []uint32 {
	c.t.Helper()
	b := make([]byte, 4*n)
	if _, err := io.ReadFull(c.conn, b); err != nil {
		c.t.Fatalf("read response: %v", err)
	}
	vs := make([]uint32, n)
	for i := range vs {
		vs[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return vs
}

func (c *syncClient) bytes(n uint32) []byte {
	c.t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(c.conn, b); err != nil {
		c.t.Fatalf("read response: %v", err)
	}
	return b
}

// send pushes content in DATA chunks of at most syncDataMax and returns the
// response id and, for FAIL, its message.
func (c *syncClient) send(spec string, content []byte, mtime uint32) (uint32, string) {
	c.t.Helper()
	c.request(syncSEND, spec)
	for len(content) > 0 {
		n := min(len(content), syncDataMax)
		c.request(syncDATA, string(content[:n]))
		content = content[n:]
	}
	// DONE carries the mtime where other requests carry a length.
	done := binary.LittleEndian.AppendUint32(nil, syncDONE)
	if _, err := c.conn.Write(binary.LittleEndian.AppendUint32(done, mtime)); err != nil {
		c.t.Fatalf("write DONE: %v", err)
	}
	r := c.uint32s(2)
	if r[0] == syncFAIL {
		return r[0], string(c.bytes(r[1]))
	}
	return r[0], ""
}

// recv pulls a file and returns its content or the FAIL message.
func (c *syncClient) recv(name string) ([]byte, string) {
	c.t.Helper()
	c.request(syncRECV, name)
	var out []byte
	for {
		r := c.uint32s(2)
		switch r[0] {
		case syncDATA:
			out = append(out, c.bytes(r[1])...)
		case syncDONE:
			return out, ""
		case syncFAIL:
			return nil, string(c.bytes(r[1]))
		default:
			c.t.Fatalf("RECV response id %q", binary.LittleEndian.AppendUint32(nil, r[0]))
		}
	}
}

func (c *syncClient) quit() {
	c.t.Helper()
	c.request(syncQUIT, "")
	if err := <-c.done; err != nil {
		c.t.Fatalf("sync session: %v", err)
	}
}

func openTestRoot(t *testing.T) (string, *os.Root) {
	dir := t.TempDir()
	for _, d := range []string{"root/data/local/tmp", "outside"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	root, err := os.OpenRoot(filepath.Join(dir, "root"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return dir, root
}

func TestSyncSendRecvStatList(t *testing.T) {
	dir, root := openTestRoot(t)
	c := newSyncClient(t, root)
	content := bytes.Repeat([]byte("0123456789abcdef"), 3*syncDataMax/16+7) // three full chunks and a bit
	name := `/data/local/tmp/new dir/a b'c"$(touch x),1.bin`
	if id, msg := c.send(name+",33261", content, 1700000000); id != syncOKAY {
		t.Fatalf("SEND: %q %s", binary.LittleEndian.AppendUint32(nil, id), msg)
	}
	host := filepath.Join(dir, "root/data/local/tmp/new dir/a b'c\"$(touch x),1.bin")
	got, err := os.ReadFile(host)
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("pushed file: %d bytes, %v; want %d bytes", len(got), err, len(content))
	}
	if fi, _ := os.Stat(host); fi.Mode().Perm() != 0o755 {
		t.Errorf("pushed mode %v, want 0755 (33261)", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Dir(host))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the file (no temporary left)", len(entries))
	}

	back, msg := c.recv(name)
	if msg != "" || !bytes.Equal(back, content) {
		t.Fatalf("RECV: %d bytes, FAIL %q; want %d bytes", len(back), msg, len(content))
	}

	c.request(syncSTAT, name)
	if st := c.uint32s(4); st[0] != syncSTAT || st[1] != sIFREG|0o755 || st[2] != uint32(len(content)) || st[3] != 1700000000 {
		t.Errorf("STAT = %o, want regular 0755 of %d bytes with the pushed mtime", st, len(content))
	}
	c.request(syncSTAT, "/data/local/tmp/missing")
	if st := c.uint32s(4); st[1] != 0 || st[2] != 0 || st[3] != 0 {
		t.Errorf("STAT of a missing file = %v, want zeros", st)
	}
	c.request(syncSTA2, "/data/local/tmp")
	st2 := c.uint32s(2)
	rest := c.bytes(64)
	if st2[0] != syncSTA2 || st2[1] != 0 || binary.LittleEndian.Uint32(rest[16:])&sIFMT != sIFDIR {
		t.Errorf("STA2 of a directory: id %x error %d mode %o", st2[0], st2[1], binary.LittleEndian.Uint32(rest[16:]))
	}
	c.request(syncLST2, "/data/local/tmp/missing")
	if st2 := c.uint32s(2); st2[0] != syncLST2 || st2[1] != 2 {
		t.Errorf("LST2 of a missing file: id %x errno %d, want ENOENT (2)", st2[0], st2[1])
	}
	c.bytes(64)

	c.request(syncLIST, "/data/local/tmp/new dir")
	var names []string
	for {
		d := c.uint32s(5)
		if d[0] == syncDONE {
			break
		}
		if d[0] != syncDENT {
			t.Fatalf("LIST response %x", d[0])
		}
		names = append(names, string(c.bytes(d[4])))
	}
	if len(names) != 1 || names[0] != `a b'c"$(touch x),1.bin` {
		t.Errorf("LIST = %q", names)
	}
	c.quit()
}

func TestSyncConfinement(t *testing.T) {
	dir, root := openTestRoot(t)
	secret := filepath.Join(dir, "outside", "secret")
	if err := os.WriteFile(secret, []byte("host secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A symlink inside the root that leads out of it, as a pushed or planted link would.
	if err := os.Symlink(filepath.Join(dir, "outside"), filepath.Join(dir, "root/data/local/tmp/out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../../outside", filepath.Join(dir, "root/data/local/tmp/rel")); err != nil {
		t.Fatal(err)
	}
	c := newSyncClient(t, root)
	for _, name := range []string{"/../outside/secret", "/data/local/tmp/out/secret", "/data/local/tmp/rel/secret"} {
		if got, msg := c.recv(name); msg == "" || strings.Contains(string(got), "host secret") {
			t.Errorf("RECV %s read %q outside the root", name, got)
		}
		c = newSyncClient(t, root) // a FAIL ends the session
	}
	for _, name := range []string{"/data/local/tmp/out/planted", "/data/local/tmp/rel/planted", "/../outside/planted"} {
		id, _ := c.send(name+",33188", []byte("x"), 0)
		if _, err := os.Stat(filepath.Join(dir, "outside", "planted")); err == nil {
			t.Fatalf("SEND %s wrote outside the root", name)
		}
		if name == "/../outside/planted" {
			// .. is cleaned away: this lands inside the root, as /outside/planted.
			if id != syncOKAY {
				t.Errorf("SEND %s: %x, want OKAY inside the root", name, id)
			}
			if _, err := os.Stat(filepath.Join(dir, "root/outside/planted")); err != nil {
				t.Errorf("SEND %s: %v", name, err)
			}
		} else if id != syncFAIL {
			t.Errorf("SEND %s through a symlink out of the root: %x, want FAIL", name, id)
		}
		c = newSyncClient(t, root)
	}
}

func TestSyncFailures(t *testing.T) {
	_, root := openTestRoot(t)
	tests := []struct {
		name string
		spec string
		want string
	}{
		{"symlink mode", "/data/local/tmp/link,41471", "symbolic links"},
		{"no mode", "/data/local/tmp/nomode", "no ,mode"},
		{"directory target", "/data/local/tmp,33188", "is a directory"},
		{"root", "/,33188", "cannot write to /"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newSyncClient(t, root)
			// The data still follows the failed SEND; the emulator drains it.
			id, msg := c.send(tt.spec, bytes.Repeat([]byte("z"), syncDataMax+1), 0)
			if id != syncFAIL || !strings.Contains(msg, tt.want) {
				t.Errorf("SEND %s: %q %q, want FAIL containing %q", tt.spec, binary.LittleEndian.AppendUint32(nil, id), msg, tt.want)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		c := newSyncClient(t, root)
		if _, msg := c.recv("/data/local/tmp/nothing"); !strings.Contains(msg, "no such file") {
			t.Errorf("RECV of a missing file: FAIL %q", msg)
		}
	})
	t.Run("oversized DATA", func(t *testing.T) {
		c := newSyncClient(t, root)
		c.request(syncSEND, "/data/local/tmp/big,33188")
		b := binary.LittleEndian.AppendUint32(nil, syncDATA)
		b = binary.LittleEndian.AppendUint32(b, syncDataMax+1)
		c.conn.Write(b)
		if r := c.uint32s(2); r[0] != syncFAIL {
			t.Errorf("oversized DATA: %x, want FAIL", r[0])
		} else {
			c.bytes(r[1])
		}
		if err := <-c.done; !errors.Is(err, errMalformed) {
			t.Errorf("session error %v, want a protocol error", err)
		}
	})
	t.Run("unknown request", func(t *testing.T) {
		c := newSyncClient(t, root)
		c.request(0x4b4f4f4c, "")
		if r := c.uint32s(2); r[0] != syncFAIL {
			t.Errorf("unknown request: %x, want FAIL", r[0])
		} else {
			c.bytes(r[1])
		}
		if err := <-c.done; !errors.Is(err, errMalformed) {
			t.Errorf("session error %v, want a protocol error", err)
		}
	})
}

// FuzzSyncSession feeds arbitrary client bytes to a sync session: it must end
// without a panic and without touching anything outside the root.
func FuzzSyncSession(f *testing.F) {
	req := func(id uint32, payload string) []byte {
		b := binary.LittleEndian.AppendUint32(nil, id)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
		return append(b, payload...)
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	f.Add(cat(req(syncSTAT, "/data/local/tmp"), req(syncQUIT, "")))
	f.Add(cat(req(syncSEND, "/data/local/tmp/f,33188"), req(syncDATA, "hello"), req(syncDONE, ""), req(syncRECV, "/data/local/tmp/f")))
	f.Add(cat(req(syncSEND, "/../../x,33188"), req(syncDATA, "x"), req(syncDONE, "")))
	f.Add(cat(req(syncLIST, "/"), req(syncSTA2, "/data"), req(syncLST2, "/nope")))
	f.Add(req(syncSEND, "/data/local/tmp/f,41471"))
	dir := f.TempDir()
	outside := filepath.Join(dir, "outside")
	os.MkdirAll(filepath.Join(dir, "root/data/local/tmp"), 0o755)
	os.MkdirAll(outside, 0o755)
	os.Symlink(outside, filepath.Join(dir, "root/data/local/tmp/out"))
	root, err := os.OpenRoot(filepath.Join(dir, "root"))
	if err != nil {
		f.Fatal(err)
	}
	defer root.Close()
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		serveSync(root, struct {
			io.Reader
			io.Writer
		}{bytes.NewReader(in), &out})
		if entries, _ := os.ReadDir(outside); len(entries) != 0 {
			t.Fatalf("the session wrote %s outside the root", entries[0].Name())
		}
	})
}
