package adbemu

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Request and response ids of the sync protocol (adb's SYNC.TXT), as little-endian
// uint32s of their four letters.
const (
	syncSTAT = 0x54415453
	syncSTA2 = 0x32415453
	syncLST2 = 0x3254534c
	syncLIST = 0x5453494c
	syncDENT = 0x544e4544
	syncSEND = 0x444e4553
	syncRECV = 0x56434552
	syncDATA = 0x41544144
	syncDONE = 0x454e4f44
	syncOKAY = 0x59414b4f
	syncFAIL = 0x4c494146
	syncQUIT = 0x54495551
)

const (
	// syncDataMax is the largest DATA chunk either side may send (SYNC_DATA_MAX).
	syncDataMax = 64 * 1024
	// syncPathMax bounds the path (or "path,mode") of a request.
	syncPathMax = 1024
)

// Unix file type bits, which the sync protocol carries whatever the host is.
const (
	sIFMT   = 0o170000
	sIFSOCK = 0o140000
	sIFLNK  = 0o120000
	sIFREG  = 0o100000
	sIFBLK  = 0o060000
	sIFDIR  = 0o040000
	sIFCHR  = 0o020000
	sIFIFO  = 0o010000
)

// syncRequest is one request header and its path.
type syncRequest struct {
	id   uint32
	path string
}

// readSyncRequest reads the next request. A path longer than syncPathMax is an
// error wrapping errMalformed; nothing larger is allocated.
func readSyncRequest(r io.Reader) (syncRequest, error) {
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return syncRequest{}, err
	}
	req := syncRequest{id: binary.LittleEndian.Uint32(h[:])}
	length := binary.LittleEndian.Uint32(h[4:])
	switch req.id {
	case syncQUIT:
		return req, nil
	case syncSTAT, syncSTA2, syncLST2, syncLIST, syncSEND, syncRECV:
	default:
		return req, fmt.Errorf("%w: unknown sync request %q", errMalformed, h[:4])
	}
	if length > syncPathMax {
		return req, fmt.Errorf("%w: sync %q path of %d bytes exceeds %d", errMalformed, h[:4], length, syncPathMax)
	}
	p := make([]byte, length)
	if _, err := io.ReadFull(r, p); err != nil {
		return req, noEOF(err)
	}
	req.path = string(p)
	return req, nil
}

// parseSendSpec splits SEND's "path,mode": the mode follows the last comma, in
// decimal, so the path itself may contain commas.
func parseSendSpec(spec string) (name string, mode uint32, err error) {
	i := strings.LastIndexByte(spec, ',')
	if i < 0 {
		return "", 0, fmt.Errorf("SEND %q has no ,mode", spec)
	}
	m, err := strconv.ParseUint(spec[i+1:], 10, 32)
	if err != nil {
		return "", 0, fmt.Errorf("SEND %q: mode: %w", spec, err)
	}
	if spec[:i] == "" {
		return "", 0, fmt.Errorf("SEND %q: empty path", spec)
	}
	return spec[:i], uint32(m), nil
}

// rootPath maps a device path to a name inside the root. Cleaning it as an
// absolute path removes every .. that would climb above /; os.Root then refuses
// symbolic links that lead out.
func rootPath(devicePath string) string {
	p := path.Clean("/" + devicePath)
	if p == "/" {
		return "."
	}
	return p[1:]
}

// serveSync runs one sync: session until QUIT, the end of the stream, or a
// request it cannot answer (which, as with adbd, ends the session after a FAIL).
func serveSync(root *os.Root, rw io.ReadWriter) error {
	w := bufio.NewWriterSize(rw, syncDataMax+8)
	for {
		req, err := readSyncRequest(rw)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			if errors.Is(err, errMalformed) {
				syncFail(w, err.Error())
				w.Flush()
			}
			return err
		}
		switch req.id {
		case syncQUIT:
			return w.Flush()
		case syncSTAT:
			err = syncStatV1(root, w, req.path)
		case syncSTA2, syncLST2:
			err = syncStatV2(root, w, req.id, req.path)
		case syncLIST:
			err = syncList(root, w, req.path)
		case syncRECV:
			err = syncRecv(root, w, req.path)
		case syncSEND:
			err = syncSend(root, rw, w, req.path)
		}
		if ferr := w.Flush(); err == nil {
			err = ferr
		}
		if err != nil {
			return err
		}
	}
}

func putUint32s(w io.Writer, vs ...uint32) error {
	b := make([]byte, 0, 4*len(vs))
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	_, err := w.Write(b)
	return err
}

func syncFail(w io.Writer, msg string) error {
	if len(msg) > syncPathMax {
		msg = msg[:syncPathMax]
	}
	if err := putUint32s(w, syncFAIL, uint32(len(msg))); err != nil {
		return err
	}
	_, err := io.WriteString(w, msg)
	return err
}

// unixMode converts a Go file mode to st_mode bits.
func unixMode(m fs.FileMode) uint32 {
	bits := uint32(m.Perm())
	switch {
	case m&fs.ModeDir != 0:
		bits |= sIFDIR
	case m&fs.ModeSymlink != 0:
		bits |= sIFLNK
	case m&fs.ModeNamedPipe != 0:
		bits |= sIFIFO
	case m&fs.ModeSocket != 0:
		bits |= sIFSOCK
	case m&fs.ModeCharDevice != 0:
		bits |= sIFCHR
	case m&fs.ModeDevice != 0:
		bits |= sIFBLK
	default:
		bits |= sIFREG
	}
	if m&fs.ModeSetuid != 0 {
		bits |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		bits |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		bits |= 0o1000
	}
	return bits
}

// syncStatV1 answers STAT with lstat(2) as adbd does: mode, size and mtime, all
// zero when the path does not exist.
func syncStatV1(root *os.Root, w io.Writer, name string) error {
	fi, err := root.Lstat(rootPath(name))
	if err != nil {
		return putUint32s(w, syncSTAT, 0, 0, 0)
	}
	return putUint32s(w, syncSTAT, unixMode(fi.Mode()), uint32(fi.Size()), uint32(fi.ModTime().Unix()))
}

// syncStatV2 answers STA2 (stat) and LST2 (lstat) with the full stat record and
// an errno.
func syncStatV2(root *os.Root, w io.Writer, id uint32, name string) error {
	var fi fs.FileInfo
	var err error
	if id == syncSTA2 {
		fi, err = root.Stat(rootPath(name))
	} else {
		fi, err = root.Lstat(rootPath(name))
	}
	b := binary.LittleEndian.AppendUint32(make([]byte, 0, 72), id)
	if err != nil {
		b = binary.LittleEndian.AppendUint32(b, uint32(errnoOf(err)))
		_, err = w.Write(append(b, make([]byte, 64)...))
		return err
	}
	dev, ino, mode, nlink, uid, gid, atime, ctime := statDetails(fi)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint64(b, dev)
	b = binary.LittleEndian.AppendUint64(b, ino)
	b = binary.LittleEndian.AppendUint32(b, mode)
	b = binary.LittleEndian.AppendUint32(b, nlink)
	b = binary.LittleEndian.AppendUint32(b, uid)
	b = binary.LittleEndian.AppendUint32(b, gid)
	b = binary.LittleEndian.AppendUint64(b, uint64(fi.Size()))
	b = binary.LittleEndian.AppendUint64(b, uint64(atime))
	b = binary.LittleEndian.AppendUint64(b, uint64(fi.ModTime().Unix()))
	b = binary.LittleEndian.AppendUint64(b, uint64(ctime))
	_, err = w.Write(b)
	return err
}

// errnoOf returns the errno behind a failed stat; a path that would leave the
// root is reported as not existing, which is what it is on the device.
func errnoOf(err error) syscall.Errno {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return syscall.ENOENT
}

// syncList answers LIST with one DENT per entry (lstat of each) and a DONE; a
// directory that cannot be read lists as empty, as with adbd.
func syncList(root *os.Root, w io.Writer, name string) error {
	done := func() error { return putUint32s(w, syncDONE, 0, 0, 0, 0) }
	dir, err := root.Open(rootPath(name))
	if err != nil {
		return done()
	}
	defer dir.Close()
	for {
		entries, err := dir.ReadDir(256)
		for _, e := range entries {
			fi, err := e.Info()
			if err != nil {
				continue
			}
			if err := putUint32s(w, syncDENT, unixMode(fi.Mode()), uint32(fi.Size()), uint32(fi.ModTime().Unix()), uint32(len(e.Name()))); err != nil {
				return err
			}
			if _, err := io.WriteString(w, e.Name()); err != nil {
				return err
			}
		}
		if err != nil || len(entries) == 0 {
			return done()
		}
	}
}

// syncRecv answers RECV with the file in DATA chunks and a DONE, or a FAIL.
func syncRecv(root *os.Root, w io.Writer, name string) error {
	f, err := root.Open(rootPath(name))
	if err != nil {
		syncFail(w, failReason(err))
		return fmt.Errorf("RECV %s: %w", name, err)
	}
	defer f.Close()
	buf := make([]byte, 8+syncDataMax)
	for {
		n, err := f.Read(buf[8:])
		if n > 0 {
			binary.LittleEndian.PutUint32(buf[0:], syncDATA)
			binary.LittleEndian.PutUint32(buf[4:], uint32(n))
			if _, werr := w.Write(buf[:8+n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return putUint32s(w, syncDONE, 0)
		}
		if err != nil {
			syncFail(w, failReason(err))
			return fmt.Errorf("RECV %s: %w", name, err)
		}
	}
}

// failReason is the message of a FAIL: the errno text when there is one, as adbd
// sends strerror.
func failReason(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}

// syncSend receives a SEND: the file is written under a temporary name in its
// directory and renamed when DONE arrives, so a dropped connection never leaves a
// half file under the final name. On any failure the remaining DATA is drained
// before the FAIL, so the host reads the reason rather than a broken stream.
func syncSend(root *os.Root, r io.Reader, w io.Writer, spec string) error {
	name, mode, specErr := parseSendSpec(spec)
	target := rootPath(name)
	var f *os.File
	var tmp string
	failure := specErr
	if failure == nil && mode&sIFMT == sIFLNK {
		failure = errors.New("pushing symbolic links is not supported by the emulator")
	}
	if failure == nil && target == "." {
		failure = errors.New("cannot write to /")
	}
	if failure == nil {
		if err := root.MkdirAll(path.Dir(target), 0o775); err != nil {
			failure = fmt.Errorf("create directory %s: %s", path.Dir("/"+target), failReason(err))
		}
	}
	if failure == nil {
		tmp = path.Join(path.Dir(target), fmt.Sprintf(".%s.adbemu-%d", path.Base(target), time.Now().UnixNano()))
		var err error
		f, err = root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fs.FileMode(mode&0o777))
		if err != nil {
			failure = fmt.Errorf("create %s: %s", name, failReason(err))
		}
	}
	cleanup := func() {
		if f != nil {
			f.Close()
			root.Remove(tmp)
			f = nil
		}
	}
	defer cleanup()

	var h [8]byte
	for {
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return fmt.Errorf("SEND %s: %w", name, noEOF(err))
		}
		id, size := binary.LittleEndian.Uint32(h[:]), binary.LittleEndian.Uint32(h[4:])
		if id == syncDONE {
			if failure == nil {
				failure = finishSend(root, f, tmp, target, mode, time.Unix(int64(size), 0))
				f = nil
			}
			break
		}
		if id != syncDATA {
			syncFail(w, fmt.Sprintf("SEND %s: expected DATA or DONE, got %q", name, h[:4]))
			return fmt.Errorf("%w: SEND %s: unexpected %q", errMalformed, name, h[:4])
		}
		if size > syncDataMax {
			syncFail(w, fmt.Sprintf("SEND %s: DATA of %d bytes exceeds %d", name, size, syncDataMax))
			return fmt.Errorf("%w: SEND %s: DATA of %d bytes", errMalformed, name, size)
		}
		dst := io.Discard
		if failure == nil {
			dst = f
		}
		if _, err := io.CopyN(dst, r, int64(size)); err != nil {
			if dst == io.Discard {
				return fmt.Errorf("SEND %s: %w", name, noEOF(err))
			}
			failure = fmt.Errorf("write %s: %s", name, failReason(err))
			if _, err := io.CopyN(io.Discard, r, int64(size)); err != nil {
				return fmt.Errorf("SEND %s: %w", name, noEOF(err))
			}
		}
	}
	if failure != nil {
		syncFail(w, failure.Error())
		return fmt.Errorf("SEND: %w", failure)
	}
	return putUint32s(w, syncOKAY, 0)
}

// finishSend closes the temporary file, gives it its mode and mtime and renames
// it over the target. It removes the temporary file on failure.
func finishSend(root *os.Root, f *os.File, tmp, target string, mode uint32, mtime time.Time) error {
	err := f.Close()
	if err == nil {
		// The umask applied at creation; the mode pushed is the mode wanted.
		err = root.Chmod(tmp, fs.FileMode(mode&0o777))
	}
	if err == nil {
		err = root.Chtimes(tmp, mtime, mtime)
	}
	if err == nil {
		if fi, serr := root.Lstat(target); serr == nil && fi.IsDir() {
			err = fmt.Errorf("%s is a directory", "/"+target)
		}
	}
	if err == nil {
		err = root.Rename(tmp, target)
	}
	if err != nil {
		root.Remove(tmp)
		return fmt.Errorf("write /%s: %s", target, failReason(err))
	}
	return nil
}
