//go:build !purego

package simd

// expAVX2 and sigmoidAVX2 (exp_amd64.s) transform x[:n] in place, n a multiple of
// eight, and return how many elements they did: all of them, or up to the first
// block of eight with a lane outside [−87, 88].
//
//go:noescape
func expAVX2(x *float32, n int) int

//go:noescape
func sigmoidAVX2(x *float32, n int) int

var expVec, sigmoidVec = vecIf(features.F32, expAVX2), vecIf(features.F32, sigmoidAVX2)

func vecIf(ok bool, f func(*float32, int) int) func(*float32, int) int {
	if ok {
		return f
	}
	return nil
}
