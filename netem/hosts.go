package netem

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/faultkit/faultkit/fault"
)

// pinHosts appends "<addr> <name> # faultkit-pin-<id>" lines to the hosts
// file at path for every resolved domain source, after recording their
// removal in j. The returned function removes them again.
func pinHosts(ctx context.Context, j *fault.Journal, path string, pins []hostPin) (func(context.Context) error, error) {
	if path == "" || len(pins) == 0 {
		return func(context.Context) error { return nil }, nil
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	marker := fault.OwnerPrefix + "-pin-" + hex.EncodeToString(rnd[:])
	undo := fault.UndoStripLines(path, marker)
	e, err := j.Record(undo)
	if err != nil {
		return nil, fmt.Errorf("netem: journal: %w", err)
	}
	remove := func(ctx context.Context) error {
		if err := undo.Apply(ctx); err != nil {
			return err
		}
		return e.Release()
	}
	var b strings.Builder
	for _, p := range pins {
		for _, a := range p.addrs {
			fmt.Fprintf(&b, "%s %s # %s\n", a, p.name, marker)
		}
	}
	if err := appendFile(path, b.String()); err != nil {
		return nil, errors.Join(fmt.Errorf("netem: pin sources in %s: %w", path, err), remove(context.WithoutCancel(ctx)))
	}
	return remove, nil
}

// appendFile appends text in place (not by rename: /etc/hosts is often a
// bind mount), starting on a new line.
func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			text = "\n" + text
		}
	}
	_, err = f.WriteString(text)
	return err
}
