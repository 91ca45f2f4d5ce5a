package qnn

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"
)

// Context is a QNN context created from a context binary.
type Context struct {
	r      *Runtime
	handle uintptr
	// Path is the file the binary came from (for messages).
	Path string
	// Info is the binary's metadata.
	Info *BinaryInfo
}

// LoadContext reads a context binary's metadata and creates a context from it. The
// buffer is only needed for the call (no PERSISTENT_BINARY config is set).
func (r *Runtime) LoadContext(path string, buf []byte) (*Context, error) {
	return r.loadContext(path, buf, nil)
}

// spillFillGroup shares one HTP spill-fill buffer among the contexts of a chunked
// model: the first context registers the group with first == nil, the following
// ones name the first (QnnHtpContext_CustomConfig_t REGISTER_MULTI_CONTEXTS; QNN
// takes the size from the first registration only).
type spillFillGroup struct {
	first *Context
	bytes uint64
}

const (
	contextOptionCustom          = 0
	htpContextRegisterMultiCtxts = 2
)

func (r *Runtime) loadContext(path string, buf []byte, group *spillFillGroup) (*Context, error) {
	info, err := r.ReadBinaryInfo(buf)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	c := &Context{r: r, Path: path, Info: info}
	// The config array: NULL, or one pointer to a context config whose custom
	// member points at the HTP struct, then NULL. C reads it through pointers
	// stored in Go memory, so all three are pinned for the call.
	var pin runtime.Pinner
	defer pin.Unpin()
	var cfgs uintptr
	if group != nil {
		htp := &cHtpContextCustomConfig{Option: htpContextRegisterMultiCtxts}
		if group.first != nil {
			htp.U[0] = uint64(group.first.handle)
		}
		htp.U[1] = group.bytes
		cfg := &cConfig{Option: contextOptionCustom, Value: uint64(uintptr(unsafe.Pointer(htp)))}
		list := []uintptr{uintptr(unsafe.Pointer(cfg)), 0}
		pin.Pin(htp)
		pin.Pin(cfg)
		pin.Pin(&list[0])
		cfgs = uintptr(unsafe.Pointer(&list[0]))
	}
	if err := r.call("contextCreateFromBinary", slotContextCreateFromBinary, r.backend, r.device, cfgs,
		uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), uintptr(unsafe.Pointer(&c.handle)), 0); err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return c, nil
}

// Close frees the context; its graphs go with it.
func (c *Context) Close() error {
	if c.handle == 0 {
		return nil
	}
	err := c.r.call("contextFree", slotContextFree, c.handle, 0)
	c.handle = 0
	return err
}

// Graph is a graph retrieved from a context.
type Graph struct {
	ctx    *Context
	handle uintptr
	Info   GraphInfo
}

// Graph retrieves the graph named name.
func (c *Context) Graph(name string) (*Graph, error) {
	info, ok := c.Info.Graph(name)
	if !ok {
		var names []string
		for _, g := range c.Info.Graphs {
			names = append(names, g.Name)
		}
		return nil, fmt.Errorf("%s: no graph %q in the metadata (graphs: %q)", c.Path, name, names)
	}
	g := &Graph{ctx: c, Info: info}
	n := cstr(name)
	if err := c.r.call("graphRetrieve", slotGraphRetrieve, c.handle, uintptr(unsafe.Pointer(&n[0])), uintptr(unsafe.Pointer(&g.handle))); err != nil {
		return nil, fmt.Errorf("%s: graph %s: %w", c.Path, name, err)
	}
	return g, nil
}

// execute runs the graph on tensor arrays the caller has pinned, together with
// everything they point to.
func (g *Graph) execute(in, out []cTensor) error {
	if len(in) == 0 || len(out) == 0 {
		return errors.New("qnn graphExecute: no inputs or outputs")
	}
	err := g.ctx.r.call("graphExecute", slotGraphExecute, g.handle,
		uintptr(unsafe.Pointer(&in[0])), uintptr(len(in)), uintptr(unsafe.Pointer(&out[0])), uintptr(len(out)), 0, 0)
	if err != nil {
		return fmt.Errorf("graph %s: %w", g.Info.Name, err)
	}
	return nil
}
