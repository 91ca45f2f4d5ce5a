package runner

import (
	"strconv"
	"strings"

	"github.com/rwkvbench/rwkvbench/hexagon"
)

// SetSoC records the SoC part number and fills the HTP arch and QNN soc_model from
// the hexagon chip catalog. Both stay empty for a chip the catalog does not know;
// an arch the catalog marks unconfirmed is kept but flagged.
func (i *Info) SetSoC(name string) {
	name = strings.TrimSpace(name)
	i.SoC = name
	c, ok := hexagon.Lookup(name)
	if !ok {
		return
	}
	i.SoC = c.SoC
	i.HTPArch = c.DSPArch()
	i.HTPArchUnconfirmed = c.ArchUnconfirmed && i.HTPArch != ""
	i.QNNSocModel = c.SocModel
}

// socFromLinuxID maps /sys/devices/soc0/soc_id (a different id space from QNN's
// soc_model) to a part number; "" when the catalog does not know it.
func socFromLinuxID(id string) string {
	n, err := strconv.Atoi(strings.TrimSpace(id))
	if err != nil {
		return ""
	}
	if c, ok := hexagon.BySocID(n); ok {
		return c.SoC
	}
	return ""
}
