// Package convert turns an RWKV checkpoint into what the Hexagon NPU runs: ONNX graphs
// (decode and prefill, optionally chunked) with the tensor names the on-device runtime
// expects, quantization encodings, and the QAIRT / QNN SDK steps that make per-chip
// context binaries.
//
// Its opinions: no Python anywhere — the graphs are written by this package and only
// Qualcomm's own tools are called; the graph I/O names are exactly those of the facts
// document (qualcomm-pipeline.md §4), because the runtime finds tensors by name; and
// the WKV recurrence can always be exported as standard ONNX operators, so a graph can
// be checked against the reference engine on a machine with no SDK at all.
package convert
