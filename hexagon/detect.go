package hexagon

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Detect identifies the chip of a Linux or Android system from
// <root>/sys/devices/soc0/soc_id (root "/" on the device itself, or a copy of its
// tree). A family file other than "Snapdragon", an unreadable or non-numeric
// soc_id, or an id missing from the catalog is an error naming the file.
func Detect(root string) (Chip, error) {
	dir := filepath.Join(root, "sys", "devices", "soc0")
	if family, err := os.ReadFile(filepath.Join(dir, "family")); err == nil {
		if f := strings.TrimSpace(string(family)); f != "Snapdragon" {
			return Chip{}, fmt.Errorf("%s/family reads %q, not Snapdragon", dir, f)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "soc_id"))
	if err != nil {
		return Chip{}, fmt.Errorf("detect SoC: %w", err)
	}
	text := strings.TrimSpace(string(b))
	id, err := strconv.Atoi(text)
	if err != nil {
		return Chip{}, fmt.Errorf("%s/soc_id reads %q, not a number", dir, text)
	}
	c, ok := BySocID(id)
	if !ok {
		return Chip{}, fmt.Errorf("%s/soc_id %d is not in the chip catalog", dir, id)
	}
	return c, nil
}
