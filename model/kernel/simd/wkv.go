package simd

import "fmt"

// WKV7 advances one head of the RWKV-7 recurrent state by one token (the generalized
// delta rule, rwkv-math.md §4.3) and writes the head's output. s is the N×N state,
// row i a value channel and column j a key channel; every vector has N = len(r)
// elements; b is kk⊙a. For each row i:
//
//	sa     = -Σ_j s[i][j]·kk[j]
//	s[i][j] = s[i][j]·w[j] + sa·b[j] + v[i]·k[j]
//	y[i]   = Σ_j s[i][j]·r[j]   (with the updated s)
//
// The assembly (amd64 and arm64, N a multiple of 8) sums in lanes with fused
// multiply-adds, so it agrees with the portable code to float32 rounding, not bit for
// bit.
func WKV7(s, r, w, k, v, kk, b, y []float32) {
	n := len(r)
	if len(s) < n*n || len(w) < n || len(k) < n || len(v) < n || len(kk) < n || len(b) < n || len(y) < n {
		panic(fmt.Sprintf("simd: WKV7 head size %d: state %d, vectors w %d k %d v %d kk %d b %d y %d",
			n, len(s), len(w), len(k), len(v), len(kk), len(b), len(y)))
	}
	if features.WKV && n%8 == 0 && n > 0 {
		wkv7Asm(s, r, w, k, v, kk, b, y)
		return
	}
	wkv7Generic(s, r, w, k, v, kk, b, y)
}

// WKV5 advances one head of the RWKV-5.2/6 state by one token (rwkv-math.md §4.1) and
// writes the head's output. s is N×N with row i a key channel and column j a value
// channel; w is the decay of the key channels, u the bonus. For each key i and value j:
//
//	y[j]   = Σ_i r[i]·(u[i]·k[i]·v[j] + s[i][j])   (with the old s)
//	s[i][j] = w[i]·s[i][j] + k[i]·v[j]
func WKV5(s, r, k, v, w, u, y []float32) {
	n := len(r)
	if len(s) < n*n || len(k) < n || len(v) < n || len(w) < n || len(u) < n || len(y) < n {
		panic(fmt.Sprintf("simd: WKV5 head size %d: state %d, vectors k %d v %d w %d u %d y %d",
			n, len(s), len(k), len(v), len(w), len(u), len(y)))
	}
	if features.WKV && n%8 == 0 && n > 0 {
		wkv5Asm(s, r, k, v, w, u, y)
		return
	}
	wkv5Generic(s, r, k, v, w, u, y)
}

func wkv7Generic(s, r, w, k, v, kk, b, y []float32) {
	n := len(r)
	for i := range n {
		row := s[i*n : (i+1)*n]
		var sa float32
		for j, x := range row {
			sa -= x * kk[j]
		}
		vi := v[i]
		var yi float32
		for j := range row {
			x := row[j]*w[j] + sa*b[j] + vi*k[j]
			row[j] = x
			yi += x * r[j]
		}
		y[i] = yi
	}
}

func wkv5Generic(s, r, k, v, w, u, y []float32) {
	n := len(r)
	clear(y[:n])
	for i := range n {
		ri, ki, ui, wi := r[i], k[i], u[i], w[i]
		row := s[i*n : (i+1)*n]
		for j, vj := range v[:n] {
			kv := ki * vj
			y[j] += ri * (ui*kv + row[j])
			row[j] = wi*row[j] + kv
		}
	}
}
