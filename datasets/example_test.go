package datasets_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/rwkvbench/rwkvbench/datasets"
)

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "lambada")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "lambada.txt")
	if err := os.WriteFile(p, []byte("The cat sat on the mat|She opened the door|"), 0o644); err != nil {
		log.Fatal(err)
	}
	ds, err := datasets.Open(context.Background(), datasets.Options{Path: p, Start: 1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ds.Format, ds.Total, ds.Docs[0].Index, ds.Docs[0].Text)
	// Output: pipe 2 1 She opened the door
}
