package hexagon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The rows below are transcribed from the reference docs, not from catalog.go, so a
// typo in either shows up as a failure.

// qnn-abi.md §6.2: SoC, soc_model, dsp_arch, VTCM MB (the first figure where two are given).
func TestABITable(t *testing.T) {
	rows := []struct {
		soc      string
		socModel int
		arch     string
		vtcm     int
	}{
		{"SM8350", 30, "v68", 4}, {"SA8295", 39, "v68", 8}, {"SA8540", 62, "v68", 8}, {"SC8280X", 37, "v68", 8},
		{"QCM6490", 93, "v68", 2}, {"SM8450", 36, "v69", 8}, {"SM8475", 42, "v69", 8}, {"SM7450", 41, "v69", 8},
		{"SXR2230P", 53, "v69", 8}, {"SM8550", 43, "v73", 8}, {"SM8635", 68, "v73", 8}, {"SC8380XP", 60, "v73", 8},
		{"SA8255", 52, "v73", 8}, {"QCS9100", 77, "v73", 8}, {"SSG2115P", 46, "v73", 2}, {"SSG2125P", 58, "v73", 2},
		{"SXR1230P", 45, "v73", 2}, {"SM8650", 57, "v75", 8}, {"SM8750", 69, "v79", 8}, {"SM8735", 85, "v79", 8},
		{"SXR2330P", 75, "v79", 8}, {"SM8850", 87, "v81", 8}, {"SM8845", 97, "v81", 8}, {"SA8797", 72, "v81", 16},
		{"SAR2230P", 95, "v81", 4}, {"SW6100", 96, "v81", 4},
		// "Other 2.43 enum values without a confirmed arch".
		{"SM8325", 34, "", 0}, {"SM7315", 38, "", 0}, {"SM6450", 50, "", 0}, {"SM7475", 54, "", 0},
		{"SM4450", 59, "", 0}, {"SM7435", 61, "", 0}, {"SM7550", 64, "", 0}, {"SM7675", 70, "", 0},
		{"SM6650", 74, "", 0}, {"SM6475", 76, "", 0}, {"QCS8300", 82, "", 0}, {"SM7750", 86, "", 0},
		{"SA8620P", 67, "", 0}, {"SDM845", 1, "", 0},
	}
	for _, r := range rows {
		c, ok := Lookup(r.soc)
		if !ok {
			t.Errorf("Lookup(%q): not found", r.soc)
			continue
		}
		if c.SocModel != r.socModel || c.DSPArch() != r.arch || c.VTCMMB != r.vtcm {
			t.Errorf("%s: soc_model %d arch %q VTCM %d, doc says %d %q %d", r.soc, c.SocModel, c.DSPArch(), c.VTCMMB, r.socModel, r.arch, r.vtcm)
		}
		if m, ok := BySocModel(r.socModel); !ok || m.SoC != r.soc {
			t.Errorf("BySocModel(%d) = %q, %v; want %s", r.socModel, m.SoC, ok, r.soc)
		}
	}
}

// qualcomm-pipeline.md §7.1: rwkv-qualcomm's offline targets and device nicknames.
func TestPipelineOfflineTable(t *testing.T) {
	rows := []struct {
		key, nickname, arch string
		socID               int
	}{
		{"SM8350", "888", "v68", 30}, {"SM7325", "6490", "v68", 35}, {"SC8280X", "", "v68", 37},
		{"SM8475", "8plusgen1", "v69", 42}, {"SM8450", "", "v69", 36}, {"SM8550", "8gen2", "v73", 43},
		{"SC8380", "xelite", "v73", 60}, {"SM8635", "8sgen3", "v73", 68}, {"SSG2125P", "", "v73", 58},
		{"SM7635", "7sgen3", "v73", 73}, {"SM8650", "8gen3", "v75", 57}, {"SM8750", "8elite", "v79", 69},
		{"SM8850", "8elitegen5", "v81", 87}, {"SM8845", "8gen5", "v81", 97}, {"SC8480XP", "x2elite", "v81", 88},
		// SM8735: the pipeline says v73, the abi table v79; the catalog keeps v79 and
		// flags it, checked in TestUnconfirmed.
	}
	for _, r := range rows {
		c, ok := Lookup(r.key)
		if !ok {
			t.Errorf("Lookup(%q): not found", r.key)
			continue
		}
		if c.DSPArch() != r.arch || c.SocModel != r.socID {
			t.Errorf("%s: %q %d, pipeline says %q %d", r.key, c.DSPArch(), c.SocModel, r.arch, r.socID)
		}
		if r.nickname != "" {
			if n, ok := Lookup(r.nickname); !ok || n.SoC != c.SoC {
				t.Errorf("Lookup(%q) = %q, %v; want %s", r.nickname, n.SoC, ok, c.SoC)
			}
		}
	}
	for _, soc := range []string{"SM8635", "SM7325", "SSG2125P"} {
		if c, _ := Lookup(soc); !c.NoFP16RelaxedPrecision {
			t.Errorf("%s: the pipeline omits fp16_relaxed_precision for it", soc)
		}
	}
	if c, _ := Lookup("SM8650"); c.NoFP16RelaxedPrecision {
		t.Errorf("SM8650: marked without fp16 relaxed precision")
	}
}

// qualcomm-pipeline.md §7.2: Linux /sys/devices/soc0/soc_id → chip, arch.
func TestBySocID(t *testing.T) {
	rows := []struct {
		id   int
		soc  string
		arch Arch
	}{
		{439, "SM8350", 68}, {475, "SM7325", 68}, {497, "QCM6490", 68}, {498, "QCM6490", 68},
		{457, "SM8450", 69}, {480, "SM8450", 69}, {482, "SM8450", 69},
		{530, "SM8475", 69}, {531, "SM8475", 69}, {540, "SM8475", 69},
		{519, "SM8550", 73}, {579, "SSG2125P", 73}, {603, "QCS8550", 73}, {604, "QCS8550", 73},
		{614, "SM8635", 73}, {642, "SM8635", 73}, {557, "SM8650", 75}, {618, "SM8750", 79},
	}
	for _, r := range rows {
		c, ok := BySocID(r.id)
		if !ok || c.SoC != r.soc || c.Arch != r.arch {
			t.Errorf("BySocID(%d) = %s %v, %v; want %s %v", r.id, c.SoC, c.Arch, ok, r.soc, r.arch)
		}
	}
	for _, id := range []int{0, -1, 1, 999999} {
		if c, ok := BySocID(id); ok {
			t.Errorf("BySocID(%d) = %s, want not found", id, c.SoC)
		}
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"SM8650", "SM8650", true},
		{"sm8650", "SM8650", true},
		{"  Sm8650\n", "SM8650", true},
		{"8GEN3", "SM8650", true},
		{"sc8380", "SC8380XP", true},
		{"", "", false},
		{"SM9999", "", false},
		{"SM86", "", false},
	}
	for _, tt := range tests {
		c, ok := Lookup(tt.in)
		if ok != tt.ok || c.SoC != tt.want {
			t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tt.in, c.SoC, ok, tt.want, tt.ok)
		}
	}
}

func TestUnconfirmed(t *testing.T) {
	for _, soc := range []string{"SM8635", "SM8735"} {
		c, _ := Lookup(soc)
		if !c.ArchUnconfirmed || c.Notes == "" {
			t.Errorf("%s: arch comes from draft/third-party code; want ArchUnconfirmed and a note", soc)
		}
	}
}

// The catalog must be unambiguous: one chip per name, alias, soc_model and soc_id.
func TestCatalogUnique(t *testing.T) {
	names := map[string]string{}
	models := map[int]string{}
	ids := map[int]string{}
	for _, c := range Chips() {
		if c.SoC != strings.ToUpper(c.SoC) {
			t.Errorf("%s: part names are upper case", c.SoC)
		}
		for _, n := range append([]string{c.SoC}, c.Aliases...) {
			k := strings.ToLower(n)
			if prev, dup := names[k]; dup {
				t.Errorf("name %q on both %s and %s", n, prev, c.SoC)
			}
			names[k] = c.SoC
		}
		if prev, dup := models[c.SocModel]; dup && c.SocModel != 0 {
			t.Errorf("soc_model %d on both %s and %s", c.SocModel, prev, c.SoC)
		}
		models[c.SocModel] = c.SoC
		for _, id := range c.LinuxSocIDs {
			if prev, dup := ids[id]; dup {
				t.Errorf("soc_id %d on both %s and %s", id, prev, c.SoC)
			}
			ids[id] = c.SoC
		}
	}
}

func TestChipsFresh(t *testing.T) {
	a := Chips()
	a[0].SoC = "CHANGED"
	a[0].LinuxSocIDs[0] = -5
	b := Chips()
	if b[0].SoC == "CHANGED" || b[0].LinuxSocIDs[0] == -5 {
		t.Fatal("Chips returned shared state")
	}
}

func TestLibNames(t *testing.T) {
	c, _ := Lookup("SM8650")
	tests := []struct{ got, want string }{
		{c.HTPStubLib("android"), "libQnnHtpV75Stub.so"},
		{c.HTPStubLib("linux"), "libQnnHtpV75Stub.so"},
		{c.HTPStubLib("windows"), "QnnHtpV75Stub.dll"},
		{c.SkelLib(), "libQnnHtpV75Skel.so"},
		{c.Arch.WindowsCatalog(), "libqnnhtpv75.cat"},
		{c.Arch.OpPackageLib(), "libQnnRwkvWkvOpPackageV75.so"},
		{Arch(0).String(), "unknown"},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%d: %q, want %q", i, tt.got, tt.want)
		}
	}
	unknown, _ := Lookup("SM8325")
	if unknown.HTPStubLib("android") != "" || unknown.SkelLib() != "" || unknown.DSPArch() != "" {
		t.Errorf("a chip without an arch must not name libraries")
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name, family, socID string
		want, wantErr       string
	}{
		{"sm8650", "Snapdragon\n", "557\n", "SM8650", ""},
		{"no family file", "", "618", "SM8750", ""},
		{"other family", "Exynos", "557", "", "not Snapdragon"},
		{"garbage", "Snapdragon", "abc", "", `reads "abc"`},
		{"unknown", "Snapdragon", "1", "", "not in the chip catalog"},
		{"missing", "Snapdragon", "-", "", "detect SoC"},
	}
	for _, tt := range tests {
		root := t.TempDir()
		dir := filepath.Join(root, "sys", "devices", "soc0")
		os.MkdirAll(dir, 0o755)
		if tt.family != "" {
			os.WriteFile(filepath.Join(dir, "family"), []byte(tt.family), 0o644)
		}
		if tt.socID != "-" {
			os.WriteFile(filepath.Join(dir, "soc_id"), []byte(tt.socID), 0o644)
		}
		c, err := Detect(root)
		switch {
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.wantErr)
		case tt.wantErr == "" && (err != nil || c.SoC != tt.want):
			t.Errorf("%s: %s, %v; want %s", tt.name, c.SoC, err, tt.want)
		}
	}
}
