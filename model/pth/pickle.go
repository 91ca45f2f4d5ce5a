package pth

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// The pickle machine below understands what torch.save writes for a state dict and
// nothing else. Every value it can build is one of these types; a pickle that needs
// anything more (arbitrary classes, code) is refused, which also means loading a
// checkpoint never runs code from the file.
type (
	pyTuple []any
	pyList  struct{ items []any }
	// pyDict keeps insertion order, as Python dicts do, so keys come out in file order.
	pyDict struct {
		keys  []any
		vals  []any
		index map[string]int // position of string keys, the only kind we look up
	}
	pyGlobal struct{ module, name string }
	// storageRef is one `<prefix>/data/<key>` entry as the pickle describes it.
	storageRef struct {
		key   string
		kind  elemKind // elemByte for untyped storages
		numel int64    // elements of kind
	}
	// tensorRef is a view into a storage, as _rebuild_tensor_v2 receives it.
	tensorRef struct {
		storage *storageRef
		kind    elemKind
		offset  int64
		shape   []int64
		stride  []int64
	}
)

func newDict() *pyDict { return &pyDict{index: map[string]int{}} }

func (d *pyDict) set(k, v any) {
	if s, ok := k.(string); ok {
		if i, dup := d.index[s]; dup {
			d.vals[i] = v
			return
		}
		d.index[s] = len(d.keys)
	}
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
}

func (g pyGlobal) String() string { return g.module + "." + g.name }

// Opcodes of pickle protocols 0–5 that torch.save output (and close relatives) use.
const (
	opMark           = '('
	opStop           = '.'
	opPop            = '0'
	opPopMark        = '1'
	opDup            = '2'
	opBinFloat       = 'G'
	opBinInt         = 'J'
	opBinInt1        = 'K'
	opBinInt2        = 'M'
	opNone           = 'N'
	opBinPersID      = 'Q'
	opReduce         = 'R'
	opBinString      = 'T'
	opShortBinString = 'U'
	opBinUnicode     = 'X'
	opAppend         = 'a'
	opBuild          = 'b'
	opGlobal         = 'c'
	opDict           = 'd'
	opEmptyDict      = '}'
	opAppends        = 'e'
	opBinGet         = 'h'
	opLongBinGet     = 'j'
	opList           = 'l'
	opEmptyList      = ']'
	opBinPut         = 'q'
	opLongBinPut     = 'r'
	opSetItem        = 's'
	opTuple          = 't'
	opEmptyTuple     = ')'
	opSetItems       = 'u'
	opBinBytes       = 'B'
	opShortBinBytes  = 'C'
	opProto          = 0x80
	opTuple1         = 0x85
	opTuple2         = 0x86
	opTuple3         = 0x87
	opNewTrue        = 0x88
	opNewFalse       = 0x89
	opLong1          = 0x8a
	opShortBinUni    = 0x8c
	opStackGlobal    = 0x93
	opMemoize        = 0x94
	opFrame          = 0x95
)

// unpickler runs one pickle. Its memory use is bounded by the pickle's length: every
// value it allocates is paid for by at least one byte of input.
type unpickler struct {
	data     []byte
	pos      int
	stack    []any
	marks    []int
	memo     map[int64]any
	storages map[string]*storageRef
}

var errTruncated = errors.New("pickle truncated")

// unpickle returns the top object of a torch.save pickle.
func unpickle(data []byte) (any, error) {
	u := &unpickler{data: data, memo: map[int64]any{}, storages: map[string]*storageRef{}}
	for {
		if u.pos >= len(u.data) {
			return nil, fmt.Errorf("pickle: %w before STOP", errTruncated)
		}
		at := u.pos
		op := u.data[u.pos]
		u.pos++
		done, err := u.step(op)
		if err != nil {
			return nil, fmt.Errorf("pickle: opcode 0x%02x at byte %d: %w", op, at, err)
		}
		if done {
			if len(u.stack) != 1 {
				return nil, fmt.Errorf("pickle: STOP with %d values on the stack, want 1", len(u.stack))
			}
			return u.stack[0], nil
		}
	}
}

func (u *unpickler) take(n int) ([]byte, error) {
	if n < 0 || n > len(u.data)-u.pos {
		return nil, errTruncated
	}
	b := u.data[u.pos : u.pos+n]
	u.pos += n
	return b, nil
}

func (u *unpickler) u8() (int, error) {
	b, err := u.take(1)
	if err != nil {
		return 0, err
	}
	return int(b[0]), nil
}

func (u *unpickler) u16() (int, error) {
	b, err := u.take(2)
	if err != nil {
		return 0, err
	}
	return int(binary.LittleEndian.Uint16(b)), nil
}

func (u *unpickler) u32() (int64, error) {
	b, err := u.take(4)
	if err != nil {
		return 0, err
	}
	return int64(binary.LittleEndian.Uint32(b)), nil
}

// line reads a newline-terminated argument (GLOBAL's module and name).
func (u *unpickler) line() (string, error) {
	for i := u.pos; i < len(u.data); i++ {
		if u.data[i] == '\n' {
			s := string(u.data[u.pos:i])
			u.pos = i + 1
			return s, nil
		}
	}
	return "", errTruncated
}

func (u *unpickler) push(v any) { u.stack = append(u.stack, v) }

func (u *unpickler) pop() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) <= u.marks[len(u.marks)-1]) {
		return nil, errors.New("stack underflow")
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) top() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) <= u.marks[len(u.marks)-1]) {
		return nil, errors.New("stack underflow")
	}
	return u.stack[len(u.stack)-1], nil
}

// popMark returns the values pushed since the last MARK and removes them and the mark.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, errors.New("no MARK on the stack")
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := append([]any(nil), u.stack[m:]...)
	u.stack = u.stack[:m]
	return items, nil
}

func (u *unpickler) popN(n int) ([]any, error) {
	items := make([]any, n)
	for i := n - 1; i >= 0; i-- {
		v, err := u.pop()
		if err != nil {
			return nil, err
		}
		items[i] = v
	}
	return items, nil
}

func (u *unpickler) put(idx int64) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	u.memo[idx] = v
	return nil
}

func (u *unpickler) get(idx int64) error {
	v, ok := u.memo[idx]
	if !ok {
		return fmt.Errorf("memo entry %d was never stored", idx)
	}
	u.push(v)
	return nil
}

// step executes one opcode; done reports STOP.
func (u *unpickler) step(op byte) (done bool, err error) {
	switch op {
	case opProto:
		v, err := u.u8()
		if err != nil {
			return false, err
		}
		if v > 5 {
			return false, fmt.Errorf("pickle protocol %d is newer than 5", v)
		}
	case opFrame:
		// Frames only group opcodes for buffered reading; the whole pickle is in memory.
		_, err = u.take(8)
	case opStop:
		return true, nil
	case opMark:
		u.marks = append(u.marks, len(u.stack))
	case opPop:
		_, err = u.pop()
	case opPopMark:
		_, err = u.popMark()
	case opDup:
		var v any
		if v, err = u.top(); err == nil {
			u.push(v)
		}
	case opNone:
		u.push(nil)
	case opNewTrue:
		u.push(true)
	case opNewFalse:
		u.push(false)
	case opBinInt:
		var b []byte
		if b, err = u.take(4); err == nil {
			u.push(int64(int32(binary.LittleEndian.Uint32(b))))
		}
	case opBinInt1:
		var v int
		if v, err = u.u8(); err == nil {
			u.push(int64(v))
		}
	case opBinInt2:
		var v int
		if v, err = u.u16(); err == nil {
			u.push(int64(v))
		}
	case opLong1:
		err = u.long1()
	case opBinFloat:
		var b []byte
		if b, err = u.take(8); err == nil {
			u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
		}
	case opBinUnicode, opBinString, opBinBytes:
		var n int64
		if n, err = u.u32(); err != nil {
			return false, err
		}
		err = u.pushText(op, int(n))
	case opShortBinUni, opShortBinString, opShortBinBytes:
		var n int
		if n, err = u.u8(); err != nil {
			return false, err
		}
		err = u.pushText(op, n)
	case opEmptyTuple:
		u.push(pyTuple{})
	case opTuple:
		var items []any
		if items, err = u.popMark(); err == nil {
			u.push(pyTuple(items))
		}
	case opTuple1, opTuple2, opTuple3:
		var items []any
		if items, err = u.popN(int(op-opTuple1) + 1); err == nil {
			u.push(pyTuple(items))
		}
	case opEmptyList:
		u.push(&pyList{})
	case opList:
		var items []any
		if items, err = u.popMark(); err == nil {
			u.push(&pyList{items: items})
		}
	case opAppend:
		err = u.appendItems(false)
	case opAppends:
		err = u.appendItems(true)
	case opEmptyDict:
		u.push(newDict())
	case opDict:
		var items []any
		if items, err = u.popMark(); err == nil {
			d := newDict()
			if err = setPairs(d, items); err == nil {
				u.push(d)
			}
		}
	case opSetItem:
		err = u.setItems(false)
	case opSetItems:
		err = u.setItems(true)
	case opBinPut:
		var v int
		if v, err = u.u8(); err == nil {
			err = u.put(int64(v))
		}
	case opLongBinPut:
		var v int64
		if v, err = u.u32(); err == nil {
			err = u.put(v)
		}
	case opMemoize:
		err = u.put(int64(len(u.memo)))
	case opBinGet:
		var v int
		if v, err = u.u8(); err == nil {
			err = u.get(int64(v))
		}
	case opLongBinGet:
		var v int64
		if v, err = u.u32(); err == nil {
			err = u.get(v)
		}
	case opGlobal:
		var module, name string
		if module, err = u.line(); err != nil {
			return false, err
		}
		if name, err = u.line(); err != nil {
			return false, err
		}
		err = u.pushGlobal(module, name)
	case opStackGlobal:
		var items []any
		if items, err = u.popN(2); err != nil {
			return false, err
		}
		module, ok1 := items[0].(string)
		name, ok2 := items[1].(string)
		if !ok1 || !ok2 {
			return false, errors.New("STACK_GLOBAL needs two strings")
		}
		err = u.pushGlobal(module, name)
	case opReduce:
		var items []any
		if items, err = u.popN(2); err != nil {
			return false, err
		}
		var v any
		if v, err = reduce(items[0], items[1]); err == nil {
			u.push(v)
		}
	case opBuild:
		err = u.build()
	case opBinPersID:
		var pid, v any
		if pid, err = u.pop(); err != nil {
			return false, err
		}
		if v, err = u.persistentLoad(pid); err == nil {
			u.push(v)
		}
	default:
		return false, fmt.Errorf("unsupported pickle opcode (torch.save of a state dict never writes it)")
	}
	return false, err
}

// long1 decodes LONG1: a little-endian two's-complement integer of up to 8 bytes.
func (u *unpickler) long1() error {
	n, err := u.u8()
	if err != nil {
		return err
	}
	b, err := u.take(n)
	if err != nil {
		return err
	}
	if n > 8 {
		return fmt.Errorf("LONG1 of %d bytes does not fit in 64 bits", n)
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	if n > 0 && n < 8 && b[n-1]&0x80 != 0 {
		v |= ^uint64(0) << (8 * uint(n)) // sign-extend
	}
	u.push(int64(v))
	return nil
}

func (u *unpickler) pushText(op byte, n int) error {
	b, err := u.take(n)
	if err != nil {
		return err
	}
	switch op {
	case opBinBytes, opShortBinBytes:
		u.push(append([]byte(nil), b...))
	default:
		u.push(string(b))
	}
	return nil
}

func (u *unpickler) appendItems(many bool) error {
	var items []any
	var err error
	if many {
		items, err = u.popMark()
	} else {
		var v any
		v, err = u.pop()
		items = []any{v}
	}
	if err != nil {
		return err
	}
	t, err := u.top()
	if err != nil {
		return err
	}
	l, ok := t.(*pyList)
	if !ok {
		return fmt.Errorf("APPEND to %s, not a list", typeName(t))
	}
	l.items = append(l.items, items...)
	return nil
}

func (u *unpickler) setItems(many bool) error {
	var items []any
	var err error
	if many {
		items, err = u.popMark()
	} else {
		items, err = u.popN(2)
	}
	if err != nil {
		return err
	}
	t, err := u.top()
	if err != nil {
		return err
	}
	d, ok := t.(*pyDict)
	if !ok {
		return fmt.Errorf("SETITEM on %s, not a dict", typeName(t))
	}
	return setPairs(d, items)
}

func setPairs(d *pyDict, items []any) error {
	if len(items)%2 != 0 {
		return fmt.Errorf("odd number (%d) of dict items", len(items))
	}
	for i := 0; i < len(items); i += 2 {
		switch items[i].(type) {
		case *pyDict, *pyList:
			return errors.New("unhashable dict key")
		}
		d.set(items[i], items[i+1])
	}
	return nil
}

// build handles BUILD. torch.save puts one after a state dict's items to restore its
// _metadata attribute (per-module versions), which says nothing about the weights.
func (u *unpickler) build() error {
	if _, err := u.pop(); err != nil {
		return err
	}
	t, err := u.top()
	if err != nil {
		return err
	}
	switch t.(type) {
	case *pyDict, *tensorRef:
		return nil
	}
	return fmt.Errorf("BUILD on %s", typeName(t))
}

// knownGlobal lists the globals the reader accepts. The closed list is the point: a
// pickle can name any Python callable, and a checkpoint that needs one not listed here
// is not a plain state dict.
func knownGlobal(g pyGlobal) bool {
	switch g.module {
	case "collections":
		return g.name == "OrderedDict"
	case "torch._utils":
		switch g.name {
		case "_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter":
			return true
		}
	case "torch.storage":
		return g.name == "UntypedStorage"
	case "torch":
		_, ok := kindOfGlobal(g)
		return ok
	}
	return false
}

func (u *unpickler) pushGlobal(module, name string) error {
	g := pyGlobal{module, name}
	if !knownGlobal(g) {
		return fmt.Errorf("unsupported global %s (this reader accepts only tensors, storages and dicts)", g)
	}
	u.push(g)
	return nil
}

// kindOfGlobal maps the storage classes and dtype objects to element kinds.
func kindOfGlobal(g pyGlobal) (elemKind, bool) {
	switch g.name {
	case "FloatStorage", "float32", "float":
		return elemF32, true
	case "HalfStorage", "float16", "half":
		return elemF16, true
	case "BFloat16Storage", "bfloat16":
		return elemBF16, true
	case "DoubleStorage", "float64", "double":
		return elemF64, true
	case "UntypedStorage":
		return elemByte, true
	}
	return 0, false
}

// persistentLoad resolves BINPERSID ('storage', type, key, location, numel). Storages
// are shared by key so that tensors viewing one storage point at the same entry.
func (u *unpickler) persistentLoad(pid any) (any, error) {
	t, ok := pid.(pyTuple)
	if !ok || len(t) != 5 || t[0] != "storage" {
		return nil, fmt.Errorf("persistent id %s is not ('storage', type, key, location, numel)", describe(pid))
	}
	g, ok := t[1].(pyGlobal)
	if !ok {
		return nil, fmt.Errorf("storage type is %s, not a storage class", typeName(t[1]))
	}
	if !isStorageClass(g) {
		return nil, fmt.Errorf("storage type %s is not a storage class", g)
	}
	kind, _ := kindOfGlobal(g)
	key, ok := t[2].(string)
	if !ok {
		return nil, fmt.Errorf("storage key is %s, not a string", typeName(t[2]))
	}
	numel, ok := t[4].(int64)
	if !ok || numel < 0 {
		return nil, fmt.Errorf("storage %s: element count %s is not a non-negative integer", key, describe(t[4]))
	}
	if s, seen := u.storages[key]; seen {
		if s.kind != kind || s.numel != numel {
			return nil, fmt.Errorf("storage %s described twice with different types or sizes", key)
		}
		return s, nil
	}
	s := &storageRef{key: key, kind: kind, numel: numel}
	u.storages[key] = s
	return s, nil
}

func isStorageClass(g pyGlobal) bool {
	switch g.name {
	case "FloatStorage", "HalfStorage", "BFloat16Storage", "DoubleStorage", "UntypedStorage":
		return true
	}
	return false
}

// reduce applies one of the known callables to its argument tuple.
func reduce(callable, args any) (any, error) {
	g, ok := callable.(pyGlobal)
	if !ok {
		return nil, fmt.Errorf("REDUCE calls %s, not a known global", typeName(callable))
	}
	a, ok := args.(pyTuple)
	if !ok {
		return nil, fmt.Errorf("REDUCE %s: arguments are %s, not a tuple", g, typeName(args))
	}
	switch g.name {
	case "OrderedDict":
		d := newDict()
		if len(a) > 0 {
			return nil, fmt.Errorf("OrderedDict with %d constructor arguments", len(a))
		}
		return d, nil
	case "_rebuild_tensor", "_rebuild_tensor_v2":
		if len(a) < 4 {
			return nil, fmt.Errorf("%s with %d arguments, want at least 4", g, len(a))
		}
		return rebuildTensor(a[0], a[1], a[2], a[3], nil)
	case "_rebuild_tensor_v3":
		if len(a) < 7 {
			return nil, fmt.Errorf("%s with %d arguments, want at least 7", g, len(a))
		}
		return rebuildTensor(a[0], a[1], a[2], a[3], a[6])
	case "_rebuild_parameter":
		if len(a) < 1 {
			return nil, fmt.Errorf("%s without arguments", g)
		}
		if _, ok := a[0].(*tensorRef); !ok {
			return nil, fmt.Errorf("%s of %s, not a tensor", g, typeName(a[0]))
		}
		return a[0], nil
	}
	return nil, fmt.Errorf("%s is not callable here", g)
}

func rebuildTensor(storage, offset, size, stride, dtype any) (*tensorRef, error) {
	s, ok := storage.(*storageRef)
	if !ok {
		return nil, fmt.Errorf("tensor storage is %s, not a persistent storage", typeName(storage))
	}
	t := &tensorRef{storage: s, kind: s.kind}
	if dtype != nil {
		g, ok := dtype.(pyGlobal)
		k, known := kindOfGlobal(g)
		if !ok || !known || k == elemByte || isStorageClass(g) {
			return nil, fmt.Errorf("tensor dtype %s is not a supported floating type", describe(dtype))
		}
		if s.kind != elemByte && s.kind != k {
			return nil, fmt.Errorf("tensor dtype %s does not match its storage", g)
		}
		t.kind = k
	}
	if t.kind == elemByte {
		return nil, errors.New("tensor on an untyped storage without a dtype")
	}
	var ok1 bool
	if t.offset, ok1 = offset.(int64); !ok1 || t.offset < 0 {
		return nil, fmt.Errorf("storage offset %s is not a non-negative integer", describe(offset))
	}
	var err error
	if t.shape, err = intTuple(size, "size"); err != nil {
		return nil, err
	}
	if t.stride, err = intTuple(stride, "stride"); err != nil {
		return nil, err
	}
	if len(t.shape) != len(t.stride) {
		return nil, fmt.Errorf("size %v and stride %v differ in length", t.shape, t.stride)
	}
	return t, nil
}

func intTuple(v any, what string) ([]int64, error) {
	t, ok := v.(pyTuple)
	if !ok {
		return nil, fmt.Errorf("%s is %s, not a tuple", what, typeName(v))
	}
	out := make([]int64, len(t))
	for i, x := range t {
		n, ok := x.(int64)
		if !ok || n < 0 {
			return nil, fmt.Errorf("%s %s: element %d is not a non-negative integer", what, describe(v), i)
		}
		out[i] = n
	}
	return out, nil
}

func typeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		return "a bool"
	case int64:
		return "an int"
	case float64:
		return "a float"
	case string:
		return "a str"
	case []byte:
		return "bytes"
	case pyTuple:
		return "a tuple"
	case *pyList:
		return "a list"
	case *pyDict:
		return "a dict"
	case pyGlobal:
		return v.String()
	case *storageRef:
		return "a storage"
	case *tensorRef:
		return "a tensor"
	}
	return fmt.Sprintf("%T", v)
}

// describe prints small values in full and large ones by type, so that error
// messages stay short whatever the file contains. Tuples are shown one level deep: a
// pickle can build a tuple DAG whose full print is exponentially long.
func describe(v any) string { return describeDepth(v, 1) }

func describeDepth(v any, depth int) string {
	switch v := v.(type) {
	case int64, bool, float64:
		return fmt.Sprint(v)
	case string:
		if len(v) > 64 {
			v = v[:64] + "…"
		}
		return fmt.Sprintf("%q", v)
	case pyTuple:
		if len(v) <= 8 && depth > 0 {
			s := "("
			for i, x := range v {
				if i > 0 {
					s += ", "
				}
				s += describeDepth(x, depth-1)
			}
			return s + ")"
		}
	}
	return typeName(v)
}
