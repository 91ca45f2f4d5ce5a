package hexagon

// Sources, as the Notes below cite them: "abi" is qnn-abi.md §6.2 (executorch
// qc_schema.py, the llama.cpp/kantv table, Olive docs, an executorch draft PR);
// "pipeline" is qualcomm-pipeline.md §7.1 (rwkv-qualcomm's offline targets) and §7.2
// (its runtime soc_id detection).

// Chips returns the catalog, ordered by HTP arch and then part name. The slice and
// everything in it are fresh on every call, so callers may modify them.
func Chips() []Chip {
	return []Chip{
		// v68
		{SoC: "SM8350", Product: "Snapdragon 888", SocModel: 30, LinuxSocIDs: []int{439}, Arch: 68, VTCMMB: 4,
			Aliases: []string{"888"}, Notes: "VTCM 4 MB per executorch, 8 MB per the llama.cpp/kantv table"},
		{SoC: "SM7325", Product: "Snapdragon 778G", SocModel: 35, LinuxSocIDs: []int{475}, Arch: 68,
			NoFP16RelaxedPrecision: true, Aliases: []string{"6490"},
			Notes: "arch from rwkv-qualcomm only (the abi table lists soc_model 35 without an arch); rwkv-qualcomm uses it for the QCM6490 class"},
		{SoC: "QCM6490", Product: "QCM6490 (IoT)", SocModel: 93, LinuxSocIDs: []int{497, 498}, Arch: 68, VTCMMB: 2,
			Aliases: []string{"QCS6490"}, Notes: "soc_model 93 is not in the QNN 2.43 enum; Linux soc_id 498 is the QCS6490"},
		{SoC: "SA8295", Product: "automotive", SocModel: 39, Arch: 68, VTCMMB: 8, Aliases: []string{"SA8295P"}},
		{SoC: "SA8540", Product: "automotive", SocModel: 62, Arch: 68, VTCMMB: 8},
		{SoC: "SC8280X", Product: "Snapdragon 8cx Gen 3", SocModel: 37, Arch: 68, VTCMMB: 8, Notes: "Windows on Arm"},
		// v69
		{SoC: "SM7450", Product: "Snapdragon 7 Gen 1", SocModel: 41, Arch: 69, VTCMMB: 8},
		{SoC: "SM8450", Product: "Snapdragon 8 Gen 1", SocModel: 36, LinuxSocIDs: []int{457, 480, 482}, Arch: 69, VTCMMB: 8},
		{SoC: "SM8475", Product: "Snapdragon 8+ Gen 1", SocModel: 42, LinuxSocIDs: []int{530, 531, 540}, Arch: 69, VTCMMB: 8,
			Aliases: []string{"8plusgen1"}},
		{SoC: "SXR2230P", Product: "XR2 Gen 2", SocModel: 53, Arch: 69, VTCMMB: 8},
		// v73
		{SoC: "QCS8550", Product: "QCS8550 (IoT)", SocModel: 66, LinuxSocIDs: []int{603, 604}, Arch: 73,
			Aliases: []string{"QCM8550"}, Notes: "arch from rwkv-qualcomm's soc_id detection only; Linux soc_id 604 is the QCM8550"},
		{SoC: "QCS9100", Product: "QCS9100 (IoT)", SocModel: 77, Arch: 73, VTCMMB: 8},
		{SoC: "SA8255", Product: "automotive", SocModel: 52, Arch: 73, VTCMMB: 8},
		{SoC: "SC8380XP", Product: "Snapdragon X Elite / X Plus", SocModel: 60, Arch: 73, VTCMMB: 8,
			Aliases: []string{"SC8380", "xelite"}, Notes: "Windows on Arm; rwkv-qualcomm builds it without the custom op"},
		{SoC: "SM7635", Product: "Snapdragon 7s Gen 3", SocModel: 73, Arch: 73, Aliases: []string{"7sgen3"},
			Notes: "arch from rwkv-qualcomm only (the abi table lists soc_model 73 without an arch)"},
		{SoC: "SM8550", Product: "Snapdragon 8 Gen 2", SocModel: 43, LinuxSocIDs: []int{519}, Arch: 73, VTCMMB: 8,
			Aliases: []string{"8gen2"}},
		{SoC: "SM8635", Product: "Snapdragon 8s Gen 3", SocModel: 68, LinuxSocIDs: []int{614, 642}, Arch: 73,
			ArchUnconfirmed: true, VTCMMB: 8, NoFP16RelaxedPrecision: true, Aliases: []string{"8sgen3"},
			Notes: "arch and VTCM from a draft executorch PR and rwkv-qualcomm, not confirmed"},
		{SoC: "SSG2115P", SocModel: 46, Arch: 73, VTCMMB: 2},
		{SoC: "SSG2125P", Product: "Snapdragon AR1 Gen 1", SocModel: 58, LinuxSocIDs: []int{579}, Arch: 73, VTCMMB: 2,
			NoFP16RelaxedPrecision: true},
		{SoC: "SXR1230P", SocModel: 45, Arch: 73, VTCMMB: 2},
		// v75
		{SoC: "SM8650", Product: "Snapdragon 8 Gen 3", SocModel: 57, LinuxSocIDs: []int{557}, Arch: 75, VTCMMB: 8,
			Aliases: []string{"8gen3"}},
		// v79
		{SoC: "SM8735", Product: "Snapdragon 8s Gen 4", SocModel: 85, Arch: 79, ArchUnconfirmed: true, VTCMMB: 8,
			Aliases: []string{"8sgen4"},
			Notes:   "v79 per a draft executorch PR; rwkv-qualcomm's offline target table says v73; neither confirmed"},
		{SoC: "SM8750", Product: "Snapdragon 8 Elite", SocModel: 69, LinuxSocIDs: []int{618}, Arch: 79, VTCMMB: 8,
			Aliases: []string{"8elite"}},
		{SoC: "SXR2330P", SocModel: 75, Arch: 79, VTCMMB: 8},
		// v81
		{SoC: "SA8797", Product: "automotive", SocModel: 72, Arch: 81, VTCMMB: 16},
		{SoC: "SAR2230P", SocModel: 95, Arch: 81, VTCMMB: 4, Notes: "soc_model 95 is not in the QNN 2.43 enum"},
		{SoC: "SC8480XP", Product: "Snapdragon X2 Elite", SocModel: 88, Arch: 81, Aliases: []string{"x2elite"},
			Notes: "from rwkv-qualcomm only; Windows on Arm, built without the custom op"},
		{SoC: "SM8845", Product: "Snapdragon 8 Gen 5", SocModel: 97, Arch: 81, VTCMMB: 8, Aliases: []string{"8gen5"},
			Notes: "soc_model 97 is not in the QNN 2.43 enum"},
		{SoC: "SM8850", Product: "Snapdragon 8 Elite Gen 5", SocModel: 87, Arch: 81, VTCMMB: 8,
			Aliases: []string{"8elitegen5"}},
		{SoC: "SW6100", SocModel: 96, Arch: 81, VTCMMB: 4, Notes: "soc_model 96 is not in the QNN 2.43 enum"},
		// In the QNN 2.43 soc_model enum, HTP arch not given by any source we have.
		{SoC: "SDM845", SocModel: 1},
		{SoC: "SM4450", SocModel: 59},
		{SoC: "SM6450", SocModel: 50},
		{SoC: "SM6475", SocModel: 76},
		{SoC: "SM6650", SocModel: 74},
		{SoC: "SM7315", SocModel: 38},
		{SoC: "SM7435", SocModel: 61},
		{SoC: "SM7475", SocModel: 54},
		{SoC: "SM7550", SocModel: 64},
		{SoC: "SM7675", SocModel: 70},
		{SoC: "SM7750", SocModel: 86},
		{SoC: "SM8325", SocModel: 34},
		{SoC: "QCS8300", SocModel: 82},
		{SoC: "SA8620P", SocModel: 67},
	}
}
