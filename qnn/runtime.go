package qnn

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"unsafe"
)

// Backend names a QNN backend library by its backendId (qnn-abi.md §1.2).
type Backend uint32

// The backends the harness can run on.
const (
	BackendCPU Backend = 3
	BackendGPU Backend = 4
	BackendHTP Backend = 6
)

// String is the backend's short name: "htp", "cpu" or "gpu".
func (b Backend) String() string {
	switch b {
	case BackendCPU:
		return "cpu"
	case BackendGPU:
		return "gpu"
	case BackendHTP:
		return "htp"
	}
	return fmt.Sprintf("backend-%d", uint32(b))
}

// ParseBackend reads "htp", "cpu" or "gpu", with or without a "qnn-" prefix.
func ParseBackend(s string) (Backend, error) {
	switch strings.TrimPrefix(strings.ToLower(s), "qnn-") {
	case "htp":
		return BackendHTP, nil
	case "cpu":
		return BackendCPU, nil
	case "gpu":
		return BackendGPU, nil
	}
	return 0, fmt.Errorf("unknown QNN backend %q (want qnn-htp, qnn-cpu or qnn-gpu)", s)
}

// LibraryNames returns the file names of a backend library and of the system library
// on goos (qnn-abi.md §6.1).
func LibraryNames(goos string, b Backend) (backend, system string) {
	name := map[Backend]string{BackendHTP: "Htp", BackendCPU: "Cpu", BackendGPU: "Gpu"}[b]
	if goos == "windows" {
		return "Qnn" + name + ".dll", "QnnSystem.dll"
	}
	return "libQnn" + name + ".so", "libQnnSystem.so"
}

// The oldest API versions whose layouts this binding mirrors. Only QAIRT 2.43 (core
// 2.32, system 1.7) was checked field by field; Qnn_Tensor_t and the system
// GraphInfo had other sizes in older releases, and the exact release that changed
// them is not known, so anything older is refused rather than guessed at.
const (
	MinCoreAPIMinor   = 32
	MinSystemAPIMinor = 7
)

// Provider is one interface a QNN library offers.
type Provider struct {
	Name       string
	BackendID  uint32
	CoreAPI    Version // for a system provider: the system API version
	BackendAPI Version
	addr       uintptr
}

// chooseProvider picks the first provider for backend whose core API major is 2 and
// minor at least MinCoreAPIMinor — the test Qualcomm's samples use.
func chooseProvider(lib string, ps []Provider, backend Backend) (Provider, error) {
	var refused []string
	for _, p := range ps {
		switch {
		case p.BackendID != uint32(backend):
			refused = append(refused, fmt.Sprintf("%s (backend id %d, want %d)", p.Name, p.BackendID, uint32(backend)))
		case p.CoreAPI.Major != 2 || p.CoreAPI.Minor < MinCoreAPIMinor:
			refused = append(refused, fmt.Sprintf("%s (core API %s, need 2.%d or newer: older table and tensor layouts differ)", p.Name, p.CoreAPI, MinCoreAPIMinor))
		default:
			return p, nil
		}
	}
	if len(ps) == 0 {
		return Provider{}, fmt.Errorf("%s: QnnInterface_getProviders returned no providers", lib)
	}
	return Provider{}, fmt.Errorf("%s: no usable QNN provider: %s", lib, strings.Join(refused, "; "))
}

// Config says which libraries to load and how to set the backend up.
type Config struct {
	// BackendLib and SystemLib are paths (or names the loader finds) of the backend
	// (libQnnHtp.so) and system (libQnnSystem.so) libraries. Empty means
	// LibraryNames for the running OS.
	BackendLib, SystemLib string
	// Backend is the backendId the provider must have; zero means HTP.
	Backend Backend
	// Perf is the HTP power vote; empty means none (the HTP default).
	Perf PerfProfile
	// OpPackage, when set, is an op package library to register (the RWKV WKV
	// op), with OpPackageProvider as its interface provider symbol (default
	// "RwkvWkvOpPackageInterfaceProvider").
	OpPackage, OpPackageProvider string
	// RPCMemLib is the FastRPC library for shared buffers; empty means
	// libcdsprpc.so (.dll on Windows), "none" disables shared buffers. If it cannot
	// be loaded, I/O uses plain buffers.
	RPCMemLib string
	// GOOS selects library names; empty means the running OS.
	GOOS string
}

// Runtime is a loaded QNN backend with its system library, log, backend and device
// handles. It is not safe for concurrent use.
type Runtime struct {
	cfg        Config
	backendLib uintptr
	systemLib  uintptr
	core       uintptr // the chosen QnnInterface_t
	sys        uintptr // the chosen QnnSystemInterface_t

	// Provider is the chosen backend provider; SystemProvider the system one.
	Provider, SystemProvider Provider
	// BuildID is the backend's build id string, when it reports one.
	BuildID string

	log, backend, device uintptr
	perf                 *powerVote
	rpc                  *rpcmem
}

// OpenRuntime loads the libraries, picks providers and creates the log, backend and
// device, registers the op package and casts the perf vote.
func OpenRuntime(cfg Config) (*Runtime, error) {
	if cfg.Backend == 0 {
		cfg.Backend = BackendHTP
	}
	goos := cfg.GOOS
	if goos == "" {
		goos = hostGOOS
	}
	defBackend, defSystem := LibraryNames(goos, cfg.Backend)
	if cfg.BackendLib == "" {
		cfg.BackendLib = defBackend
	}
	if cfg.SystemLib == "" {
		cfg.SystemLib = defSystem
	}
	r := &Runtime{cfg: cfg}
	if err := r.open(); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func (r *Runtime) open() error {
	var err error
	if r.systemLib, err = dlopen(r.cfg.SystemLib); err != nil {
		return fmt.Errorf("load QNN system library: %w", err)
	}
	sysProviders, err := systemProviders(r.systemLib, r.cfg.SystemLib)
	if err != nil {
		return err
	}
	for _, p := range sysProviders {
		if p.CoreAPI.Major == 1 && p.CoreAPI.Minor >= MinSystemAPIMinor {
			r.SystemProvider, r.sys = p, p.addr
			break
		}
	}
	if r.sys == 0 {
		var got []string
		for _, p := range sysProviders {
			got = append(got, fmt.Sprintf("%s (system API %s)", p.Name, p.CoreAPI))
		}
		return fmt.Errorf("%s: no system provider with API 1.%d or newer (found %s)", r.cfg.SystemLib, MinSystemAPIMinor, strings.Join(got, ", "))
	}

	if r.backendLib, err = dlopen(r.cfg.BackendLib); err != nil {
		return fmt.Errorf("load QNN backend: %w", err)
	}
	providers, err := coreProviders(r.backendLib, r.cfg.BackendLib)
	if err != nil {
		return err
	}
	if r.Provider, err = chooseProvider(r.cfg.BackendLib, providers, r.cfg.Backend); err != nil {
		return err
	}
	r.core = r.Provider.addr

	if r.slot(slotBackendGetBuildID) != 0 {
		var id uintptr
		if r.call("backendGetBuildId", slotBackendGetBuildID, uintptr(unsafe.Pointer(&id))) == nil {
			r.BuildID = cstring(id)
		}
	}
	// A NULL log callback: QNN then logs to the platform default (logcat on
	// Android). A Go callback would have to format a C va_list, which purego can
	// only hand on to the C library's vsnprintf; that was checked on Linux but not
	// on Windows, so the binding does not rely on it.
	const logLevelWarn = 2
	if err := r.call("logCreate", slotLogCreate, 0, logLevelWarn, uintptr(unsafe.Pointer(&r.log))); err != nil {
		r.log = 0 // logging is optional; later calls accept a NULL log
	}
	if err := r.call("backendCreate", slotBackendCreate, r.log, 0, uintptr(unsafe.Pointer(&r.backend))); err != nil {
		return err
	}
	if r.cfg.OpPackage != "" {
		if err := r.RegisterOpPackage(r.cfg.OpPackage, r.cfg.OpPackageProvider); err != nil {
			return err
		}
	}
	if r.slot(slotDeviceCreate) != 0 {
		if err := r.call("deviceCreate", slotDeviceCreate, r.log, 0, uintptr(unsafe.Pointer(&r.device))); err != nil {
			if r.cfg.Backend == BackendHTP {
				return err
			}
			r.device = 0 // CPU and GPU backends may have no device concept
		}
	}
	if r.cfg.Perf != "" && r.cfg.Perf != PerfNone {
		if r.cfg.Backend != BackendHTP {
			return fmt.Errorf("perf profile %q: only the HTP backend has a power API", r.cfg.Perf)
		}
		if r.perf, err = r.votePower(r.cfg.Perf); err != nil {
			return err
		}
	}
	r.rpc = loadRPCMem(r.cfg.RPCMemLib, hostGOOS)
	return nil
}

// RegisterOpPackage registers a custom op package with the backend. The target is
// NULL, which loads the package for the backend itself (HTP docs, for a context
// binary on ARM).
func (r *Runtime) RegisterOpPackage(path, provider string) error {
	if provider == "" {
		provider = "RwkvWkvOpPackageInterfaceProvider"
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("op package: %w", err)
	}
	p, prov := cstr(path), cstr(provider)
	if err := r.call("backendRegisterOpPackage", slotBackendRegisterOpPackage, r.backend, uintptr(unsafe.Pointer(&p[0])), uintptr(unsafe.Pointer(&prov[0])), 0); err != nil {
		return fmt.Errorf("register op package %s: %w", path, err)
	}
	return nil
}

// SharedBuffers reports whether I/O buffers are rpcmem shared buffers registered
// with memRegister (zero-copy) rather than plain client buffers.
func (r *Runtime) SharedBuffers() bool { return r.rpc != nil }

// Describe names the runtime for result records (bench.Cell.Runtime): provider,
// API versions and build id.
func (r *Runtime) Describe() string {
	d := fmt.Sprintf("QNN %s core %s backend %s", r.Provider.Name, r.Provider.CoreAPI, r.Provider.BackendAPI)
	if r.BuildID != "" {
		d += " build " + r.BuildID
	}
	return d
}

// PerfProfile is the profile voted for (bench.Cell.PerfProfile); PerfNone when none.
func (r *Runtime) PerfProfile() PerfProfile {
	if r.perf == nil {
		return PerfNone
	}
	return r.cfg.Perf
}

// PerfVote describes the power vote in force, "" when none was cast.
func (r *Runtime) PerfVote() string {
	if r.perf == nil {
		return ""
	}
	return r.perf.description
}

// Close frees everything in the documented teardown order: power config, device,
// backend, log, then the libraries. Contexts must be closed first.
func (r *Runtime) Close() error {
	var errs []error
	if r.perf != nil {
		errs = append(errs, r.perf.release())
		r.perf = nil
	}
	if r.device != 0 {
		errs = append(errs, r.call("deviceFree", slotDeviceFree, r.device))
		r.device = 0
	}
	if r.backend != 0 {
		errs = append(errs, r.call("backendFree", slotBackendFree, r.backend))
		r.backend = 0
	}
	if r.log != 0 {
		errs = append(errs, r.call("logFree", slotLogFree, r.log))
		r.log = 0
	}
	// The libraries stay mapped: QNN backends are known to misbehave when
	// reloaded in one process (1009 LOADING_BINARIES), and purego may still hold
	// references. Unmapping them buys nothing for a benchmark process.
	return errors.Join(errs...)
}

// slot reads a function pointer from the core table; 0 when the table has no such
// entry.
func (r *Runtime) slot(i int) uintptr {
	if r.core == 0 || i >= coreTableSlots {
		return 0
	}
	return cread[uintptr](r.core + interfaceHeaderSize + uintptr(i)*ptrSize)
}

func (r *Runtime) sysSlot(i int) uintptr {
	if r.sys == 0 || i >= systemTableSlots {
		return 0
	}
	return cread[uintptr](r.sys + systemHeaderSize + uintptr(i)*ptrSize)
}

// call invokes a core table entry and turns its Qnn_ErrorHandle_t into an error.
// Like ccall it keeps the objects of uintptr(unsafe.Pointer(&x)) arguments alive
// and in place for the call.
//
//go:uintptrescapes
func (r *Runtime) call(op string, slot int, args ...uintptr) error {
	fn := r.slot(slot)
	if fn == 0 {
		return fmt.Errorf("qnn %s: not provided by %s (function-table slot %d is NULL)", op, r.cfg.BackendLib, slot)
	}
	return r.check(op, uint64(ccall(fn, args...)))
}

//go:uintptrescapes
func (r *Runtime) sysCall(op string, slot int, args ...uintptr) error {
	fn := r.sysSlot(slot)
	if fn == 0 {
		return fmt.Errorf("qnn %s: not provided by %s (system table slot %d is NULL)", op, r.cfg.SystemLib, slot)
	}
	return r.check(op, uint64(ccall(fn, args...)))
}

// check wraps a non-zero handle, with the backend's message when it offers one.
func (r *Runtime) check(op string, handle uint64) error {
	if handle == 0 {
		return nil
	}
	var msg string
	if fn := r.slot(slotErrorGetMessage); fn != 0 {
		var p uintptr
		if ccall(fn, uintptr(handle), uintptr(unsafe.Pointer(&p))) == 0 {
			msg = cstring(p)
		}
	}
	return newError(op, handle, msg)
}

func coreProviders(lib uintptr, path string) ([]Provider, error) {
	list, err := getProviders(lib, path, "QnnInterface_getProviders")
	if err != nil {
		return nil, err
	}
	var ps []Provider
	for _, p := range list {
		h := cread[cInterfaceHeader](p)
		ps = append(ps, Provider{Name: cstring(h.ProviderName), BackendID: h.BackendID,
			CoreAPI: h.CoreAPIVersion.version(), BackendAPI: h.BackendAPIVersion.version(), addr: p})
	}
	return ps, nil
}

func systemProviders(lib uintptr, path string) ([]Provider, error) {
	list, err := getProviders(lib, path, "QnnSystemInterface_getProviders")
	if err != nil {
		return nil, err
	}
	var ps []Provider
	for _, p := range list {
		h := cread[cSystemInterfaceHeader](p)
		ps = append(ps, Provider{Name: cstring(h.ProviderName), BackendID: h.BackendID,
			CoreAPI: h.SystemAPIVersion.version(), addr: p})
	}
	return ps, nil
}

// maxProviders bounds a count we read from a library.
const maxProviders = 64

func getProviders(lib uintptr, path, symbol string) ([]uintptr, error) {
	fn, err := dlsym(lib, symbol)
	if err != nil || fn == 0 {
		return nil, fmt.Errorf("%s: no %s: not a QNN API 2 library (%v)", path, symbol, err)
	}
	var list uintptr
	var n uint32
	if e := uint64(ccall(fn, uintptr(unsafe.Pointer(&list)), uintptr(unsafe.Pointer(&n)))); e != 0 {
		return nil, fmt.Errorf("%s: %w", path, newError(symbol, e, ""))
	}
	if n > maxProviders || (n > 0 && list == 0) {
		return nil, fmt.Errorf("%s: %s returned %d providers at %#x", path, symbol, n, list)
	}
	out := make([]uintptr, n)
	for i := range out {
		out[i] = cread[uintptr](list + uintptr(i)*ptrSize)
	}
	return out, nil
}

// Available reports whether this build can load QNN libraries at all (false on
// android without cgo and on 32-bit targets, where every load fails with
// ErrUnavailable).
func Available() bool { return available }
