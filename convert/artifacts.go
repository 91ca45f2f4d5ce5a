package convert

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/rwkvbench/rwkvbench/convert/onnx"
	"github.com/rwkvbench/rwkvbench/model"
	"github.com/rwkvbench/rwkvbench/model/precision"
	"github.com/rwkvbench/rwkvbench/model/tensor"
)

// ManifestVersion is the manifest format version; readers refuse newer ones.
const ManifestVersion = 1

// Manifest describes the artifacts of one model, precision and chip: what deploy
// pushes and what reports cite. It is written last, so a manifest's presence means
// the conversion finished.
type Manifest struct {
	FormatVersion int       `json:"format_version"`
	Model         string    `json:"model"`
	ModelHash     string    `json:"model_hash"`
	RWKVVersion   string    `json:"rwkv_version"`
	Precision     string    `json:"precision"`
	Chip          string    `json:"chip"`
	SocModel      int       `json:"soc_model"`
	HTPArch       string    `json:"htp_arch"`
	SDKVersion    string    `json:"sdk_version"`
	Chunks        int       `json:"chunks"`
	PrefillLen    int       `json:"prefill_len"`
	WKV           string    `json:"wkv"`
	Graphs        []string  `json:"graphs"`
	Files         []Entry   `json:"files"`
	Created       time.Time `json:"created"`
}

// Entry is one file of an artifact set, relative to the manifest's folder.
type Entry struct {
	Path   string `json:"path"`
	Role   string `json:"role"` // context-binary, onnx, encodings, config
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// ArtifactKey is the content address of a conversion: the hash of everything that
// decides its output. Equal keys mean the cached artifacts can be reused.
func ArtifactKey(modelHash string, o Options, chip string, sdk string) string {
	h := sha256.New()
	fmt.Fprintf(h, "rwkvbench-artifacts/%d\n%s\n%s\n%s\n%s\n%d\n%d\n%s\n%d\n",
		ManifestVersion, modelHash, o.Precision, chip, sdk, o.Chunks, o.PrefillLen, o.WKV, o.FloatWidth)
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// HashFile returns the hex sha256 of a file.
func HashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// ReadManifest reads and checks a manifest: the format version, and (with verify) that
// every listed file is present with its recorded size and hash.
func ReadManifest(path string, verify bool) (*Manifest, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	if m.FormatVersion < 1 || m.FormatVersion > ManifestVersion {
		return nil, fmt.Errorf("manifest %s: format version %d, this build reads 1..%d", path, m.FormatVersion, ManifestVersion)
	}
	if verify {
		dir := filepath.Dir(path)
		for _, e := range m.Files {
			sum, size, err := HashFile(filepath.Join(dir, e.Path))
			if err != nil {
				return nil, fmt.Errorf("manifest %s: %w", path, err)
			}
			if sum != e.SHA256 || size != e.Size {
				return nil, fmt.Errorf("manifest %s: %s changed since conversion (sha256 %s, recorded %s)", path, e.Path, sum, e.SHA256)
			}
		}
	}
	return &m, nil
}

// WriteGraphs exports every graph of the options to its .onnx path and, when enc is
// not nil, writes the graph's encodings in format beside it and records their paths
// in o.Encodings for the plan.
func WriteGraphs(set *tensor.Set, o *Options, enc *precision.Encodings, format EncodingsFormat) error {
	if err := o.check(); err != nil {
		return err
	}
	if enc != nil {
		o.Encodings = map[string]string{}
	}
	for _, g := range o.Graphs() {
		exp, err := ExportGraph(set, o.Config, g.Spec)
		if err != nil {
			return err
		}
		if err := writeFileAtomic(g.Path, onnx.Marshal(exp.ONNX)); err != nil {
			return err
		}
		if enc == nil {
			continue
		}
		raw, err := MarshalEncodings(*enc, exp, g.Spec, o.Config, format)
		if err != nil {
			return fmt.Errorf("encodings for %s: %w", g.Name, err)
		}
		if err := writeFileAtomic(g.Encodings, raw); err != nil {
			return err
		}
		o.Encodings[g.Name] = g.Encodings
	}
	return nil
}

// writeFileAtomic writes through a temporary name, so a crash never leaves a
// half-written file under the final name.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".partial"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

// Run performs a whole conversion for m with the SDK in o: writes the ONNX graphs and
// (for quantized precisions) their encodings, runs the SDK plan, and writes one
// manifest per chip.
func Run(ctx context.Context, m *model.Model, modelHash string, o Options, enc *precision.Encodings, format EncodingsFormat) ([]*Manifest, error) {
	if o.SDK == nil {
		return nil, fmt.Errorf("convert %s: no QNN SDK (use --dry-run to print the plan)", m.Path)
	}
	if o.Precision != "fp16" && enc == nil {
		return nil, fmt.Errorf("convert %s: precision %s needs encodings", m.Path, o.Precision)
	}
	if err := WriteGraphs(m.Tensors(), &o, enc, format); err != nil {
		return nil, fmt.Errorf("convert %s: %w", m.Path, err)
	}
	plan, err := BuildPlan(o)
	if err != nil {
		return nil, fmt.Errorf("convert %s: %w", m.Path, err)
	}
	if err := plan.Run(ctx); err != nil {
		return nil, fmt.Errorf("convert %s: %w", m.Path, err)
	}
	var out []*Manifest
	for _, chip := range o.Chips {
		man := &Manifest{
			FormatVersion: ManifestVersion, Model: o.ModelName, ModelHash: modelHash,
			RWKVVersion: string(o.Config.Version), Precision: o.Precision, Chip: chip.SoC,
			SocModel: chip.SocModel, HTPArch: chip.DSPArch(), SDKVersion: o.SDK.Version.String(),
			Chunks: o.Chunks, PrefillLen: o.PrefillLen, WKV: string(o.WKV), Created: time.Now().UTC(),
		}
		dir := filepath.Join(o.OutDir, chip.SoC)
		for c := 1; c <= o.Chunks; c++ {
			man.Graphs = append(man.Graphs, GraphName(o.ModelName, false, c, o.Chunks), GraphName(o.ModelName, true, c, o.Chunks))
			if err := man.add(dir, ContextBinaryName(o.ModelName, c, o.Chunks)+".bin", "context-binary"); err != nil {
				return nil, err
			}
		}
		entries, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		sort.Strings(entries)
		for _, e := range entries {
			if filepath.Base(e) == "manifest.json" {
				continue
			}
			if err := man.add(dir, filepath.Base(e), "config"); err != nil {
				return nil, err
			}
		}
		raw, err := json.MarshalIndent(man, "", "  ")
		if err != nil {
			return nil, err
		}
		if err := writeFileAtomic(filepath.Join(dir, "manifest.json"), append(raw, '\n')); err != nil {
			return nil, err
		}
		out = append(out, man)
	}
	return out, nil
}

func (m *Manifest) add(dir, rel, role string) error {
	sum, size, err := HashFile(filepath.Join(dir, rel))
	if err != nil {
		return fmt.Errorf("manifest for %s: %w", m.Chip, err)
	}
	m.Files = append(m.Files, Entry{Path: rel, Role: role, Size: size, SHA256: sum})
	return nil
}
