// Package qnn runs RWKV context binaries on Qualcomm's QNN runtime (QAIRT) from Go,
// without cgo where the platform allows it: the backend (libQnnHtp.so, libQnnCpu.so,
// libQnnGpu.so; QnnHtp.dll on Windows on Arm) and libQnnSystem.so are loaded with
// github.com/ebitengine/purego, and every call goes through the function tables the
// libraries' getProviders entry points return.
//
// Opinions:
//
//   - One ABI, checked. The Go structs mirror the QAIRT 2.43 layouts (core API 2.32,
//     system API 1.7); providers older than that are refused, not guessed at. ABI()
//     reports the layout as the compiler laid it out, for comparison with an SDK's
//     headers ("rwkvbench doctor --abi").
//   - Every QNN error is an *Error carrying the code's name and number.
//   - The RWKV Session follows rwkv-qualcomm's graph conventions and keeps state in
//     place: state inputs are the state outputs' buffers, chunk k reads chunk k−1's
//     output buffer, prefill shares decode's buffers. Nothing is copied per step
//     except token ids (or embedding rows) in and logits out.
//   - Zero-copy shared buffers (rpcmem + memRegister) are used when libcdsprpc is
//     there, plain client buffers otherwise.
//   - No Go log callback: QNN gets a NULL callback and logs to the platform default,
//     because forwarding a C va_list from Go is only known to work on Linux.
//
// Builds: linux and windows (amd64, arm64) with CGO_ENABLED=0; android needs
// CGO_ENABLED=1 and the NDK for purego. Elsewhere (android without cgo, 32-bit)
// the package compiles to a stub whose loads fail with ErrUnavailable.
//
// Nothing here has run on Qualcomm hardware: the tests drive the binding against a
// STAND-IN backend written in C for them (qnn/internal/standin), which mimics the
// documented ABI and computes a toy recurrence, not RWKV.
package qnn
