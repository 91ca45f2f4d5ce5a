package eval

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/rwkvbench/rwkvbench/tokenizer"
)

var kldTexts = []string{"x yz", "x yq", "a b", "xx yyz"}

// saveReference runs the fake at strength and returns its reference file.
func saveReference(t *testing.T, strength float32, texts []string, opts Options) []byte {
	t.Helper()
	var ref bytes.Buffer
	opts.SaveReference = &ref
	if _, err := Lambada(context.Background(), newFake(strength), tokenizer.Bytes{}, docs(texts...), opts); err != nil {
		t.Fatal(err)
	}
	return ref.Bytes()
}

func TestKLDSelf(t *testing.T) {
	ref := saveReference(t, 2, kldTexts, Options{})
	res, err := Lambada(context.Background(), newFake(2), tokenizer.Bytes{}, docs(kldTexts...), Options{
		Reference: bytes.NewReader(ref), ReferenceName: "self.ref",
	})
	if err != nil {
		t.Fatal(err)
	}
	k := res.KLD
	if k == nil || k.Mean != 0 || k.Max != 0 || k.Median != 0 || k.P99 != 0 || k.Top1Agreement != 1 || k.DeltaPPL != 0 {
		t.Fatalf("self comparison: %+v, want all zero and agreement 1", k)
	}
	if k.Positions != res.TargetTokens {
		t.Errorf("%d positions compared, %d target tokens", k.Positions, res.TargetTokens)
	}
}

// TestKLDAgainstHand compares a strength-3 model with a strength-2 reference. All
// non-successor tokens are equally likely in both, so merging them into the rest
// bucket loses nothing, and the bucketed divergence must equal the full one,
// computed here independently over all 256 tokens.
func TestKLDAgainstHand(t *testing.T) {
	ref := saveReference(t, 2, kldTexts, Options{TopK: 4})
	res, err := Lambada(context.Background(), newFake(3), tokenizer.Bytes{}, docs(kldTexts...), Options{
		Reference: bytes.NewReader(ref), ReferenceName: "fp.ref",
	})
	if err != nil {
		t.Fatal(err)
	}
	dist := func(strength float64, peaked bool) []float64 {
		p := make([]float64, 256)
		var z float64
		for i := range p {
			p[i] = 1
			if peaked && i == 0 {
				p[i] = math.Exp(strength)
			}
			z += p[i]
		}
		for i := range p {
			p[i] /= z
		}
		return p
	}
	fullKL := func(p, q []float64) float64 {
		var d float64
		for i := range p {
			d += p[i] * math.Log(p[i]/q[i])
		}
		return d
	}
	// Every position of kldTexts follows a token with a successor except none: the
	// last context token and each target token fed all are in succ ('x', ' ', 'y',
	// 'a'), so every position is peaked.
	want := fullKL(dist(2, true), dist(3, true))
	k := res.KLD
	if !near(k.Mean, want, 1e-9) || !near(k.Max, want, 1e-9) || !near(k.Median, want, 1e-9) || !near(k.P99, want, 1e-9) {
		t.Errorf("KLD %+v, want every position %v", k, want)
	}
	if k.Top1Agreement != 1 {
		t.Errorf("agreement %v, want 1 (same argmax)", k.Top1Agreement)
	}
	refRes, err := Lambada(context.Background(), newFake(2), tokenizer.Bytes{}, docs(kldTexts...), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !near(k.DeltaPPL, res.PPL-refRes.PPL, 1e-12) || !near(k.ReferencePPL, refRes.PPL, 1e-12) {
		t.Errorf("Δppl %v, want %v", k.DeltaPPL, res.PPL-refRes.PPL)
	}
}

func TestKLDMismatch(t *testing.T) {
	ref := saveReference(t, 2, kldTexts, Options{})
	var plain bytes.Buffer // the stream uncompressed, to corrupt it
	gz, err := gzip.NewReader(bytes.NewReader(ref))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(&plain, gz)
	recompress := func(b []byte) []byte {
		var out bytes.Buffer
		w := gzip.NewWriter(&out)
		w.Write(b)
		w.Close()
		return out.Bytes()
	}
	header := plain.Bytes()[:bytes.IndexByte(plain.Bytes(), '\n')+1]
	body := plain.Bytes()[len(header):]

	for _, tc := range []struct {
		name    string
		ref     []byte
		texts   []string
		opts    Options
		wantErr string
	}{
		{"fewer docs here", ref, kldTexts[:3], Options{}, "more documents than this run's 3"},
		{"more docs here", ref, append(append([]string{}, kldTexts...), "x yz"), Options{}, "ends after 4 documents, but this run goes on to doc 4"},
		{"different token", ref, []string{"x yz", "x yr", "a b", "xx yyz"}, Options{}, "doc 1 target token 2 (position 6 in the file): token id 113 there, 114 here"},
		{"different target length", ref, []string{"x yz", "x yqq", "a b", "xx yyz"}, Options{}, "doc 1 has 3 target tokens there, 4 here"},
		{"different prefix", ref, kldTexts, Options{PrefixToken: NoPrefix}, "prefix_token is 0, this run's is -1"},
		{"truncated", recompress(plain.Bytes()[:plain.Len()-50]), kldTexts, Options{}, "unexpected EOF"},
		{"not gzip", plain.Bytes(), kldTexts, Options{}, "not a gzip stream"},
		{"bad header", recompress(append([]byte("{\"format\":\"other\"}\n"), body...)), kldTexts, Options{}, "format \"other\""},
		{"future version", recompress(append(bytes.Replace(header, []byte(`"version":1`), []byte(`"version":9`), 1), body...)), kldTexts, Options{}, "format version 9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Reference = bytes.NewReader(tc.ref)
			tc.opts.ReferenceName = "fp32.ref"
			_, err := Lambada(context.Background(), newFake(2), tokenizer.Bytes{}, docs(tc.texts...), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "fp32.ref") {
				t.Fatalf("error = %v, want one naming fp32.ref and containing %q", err, tc.wantErr)
			}
		})
	}
}

// FuzzReadReference feeds arbitrary bytes (behind a valid gzip layer, so the
// fuzzer reaches the record parser) to a comparison: it must fail cleanly or
// produce finite, non-negative statistics.
func FuzzReadReference(f *testing.F) {
	var ref bytes.Buffer
	if _, err := Lambada(context.Background(), newFake(2), tokenizer.Bytes{}, docs("x yz", "a b"), Options{SaveReference: &ref, TopK: 2}); err != nil {
		f.Fatal(err)
	}
	gz, _ := gzip.NewReader(&ref)
	plain, _ := io.ReadAll(gz)
	f.Add(plain)
	f.Add([]byte("{\"format\":\"rwkvbench-kld-reference\",\"version\":1,\"task\":\"lambada\",\"vocab\":256,\"top_k\":1,\"prefix_token\":0,\"tokenizer\":\"bytes\"}\nE\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, plain []byte) {
		var z bytes.Buffer
		w := gzip.NewWriter(&z)
		w.Write(plain)
		w.Close()
		res, err := Lambada(context.Background(), newFake(2), tokenizer.Bytes{}, docs("x yz", "a b"), Options{Reference: &z})
		if err != nil {
			return
		}
		k := res.KLD
		for _, v := range []float64{k.Mean, k.Median, k.P99, k.Max} {
			if math.IsNaN(v) || v < 0 {
				t.Fatalf("accepted reference gave KLD %+v", k)
			}
		}
	})
}
