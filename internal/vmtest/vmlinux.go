package vmtest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
)

// errNoPayload means the bzImage's payload could not be turned into an ELF
// vmlinux; the caller then boots the bzImage itself (slower under TCG).
var errNoPayload = errors.New("no extractable vmlinux payload")

// bzImagePayload returns the compressed kernel inside a bzImage, located
// through the x86 boot protocol header (Documentation/arch/x86/boot.rst):
// the protected-mode part starts after (setup_sects+1) sectors, and
// payload_offset/payload_length (protocol 2.08+) give the compressed vmlinux
// within it. No byte-pattern search is needed.
func bzImagePayload(img []byte) ([]byte, error) {
	if len(img) < 0x250 || string(img[0x202:0x206]) != "HdrS" {
		return nil, fmt.Errorf("%w: not a bzImage (no HdrS signature)", errNoPayload)
	}
	if v := binary.LittleEndian.Uint16(img[0x206:]); v < 0x208 {
		return nil, fmt.Errorf("%w: boot protocol %#x has no payload fields", errNoPayload, v)
	}
	setup := int(img[0x1f1])
	if setup == 0 {
		setup = 4
	}
	start := (setup + 1) * 512
	off := int(binary.LittleEndian.Uint32(img[0x248:]))
	n := int(binary.LittleEndian.Uint32(img[0x24c:]))
	if off < 0 || n <= 0 || start+off+n > len(img) {
		return nil, fmt.Errorf("%w: payload %d+%d outside the %d-byte image", errNoPayload, start+off, n, len(img))
	}
	return img[start+off : start+off+n], nil
}

// extractVmlinux decompresses the payload of the bzImage at src into an ELF
// file at dst. xz (Debian's choice) goes through the xz tool, gzip through
// the standard library; other compressions report errNoPayload.
func extractVmlinux(ctx context.Context, src, dst string) error {
	img, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	payload, err := bzImagePayload(img)
	if err != nil {
		return err
	}
	tmp := dst + ".tmp"
	defer os.Remove(tmp)
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer out.Close()
	switch {
	case bytes.HasPrefix(payload, []byte("\xfd7zXZ\x00")):
		// --single-stream: the kernel build appends the uncompressed size
		// after the stream; xz would otherwise reject it as garbage.
		cmd := exec.CommandContext(ctx, "xz", "-dc", "--single-stream")
		cmd.Stdin = bytes.NewReader(payload)
		cmd.Stdout = out
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("xz -dc: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
		}
	case bytes.HasPrefix(payload, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(bytes.NewReader(payload))
		if err != nil {
			return err
		}
		zr.Multistream(false)
		if _, err := io.Copy(out, zr); err != nil {
			return fmt.Errorf("gunzip: %w", err)
		}
	default:
		return fmt.Errorf("%w: unsupported compression (magic % x)", errNoPayload, payload[:min(6, len(payload))])
	}
	if err := out.Close(); err != nil {
		return err
	}
	head := make([]byte, 4)
	f, err := os.Open(tmp)
	if err != nil {
		return err
	}
	_, err = io.ReadFull(f, head)
	f.Close()
	if err != nil || string(head) != "\x7fELF" {
		return fmt.Errorf("%w: decompressed payload is not an ELF file", errNoPayload)
	}
	return os.Rename(tmp, dst)
}
