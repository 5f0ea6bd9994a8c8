package vmtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// run executes a host command and returns its stdout; the error carries
// stderr, so that a failing apt-get or depmod explains itself.
func run(ctx context.Context, dir string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = msg[len(msg)-2000:]
		}
		return stdout.Bytes(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
	}
	return stdout.Bytes(), nil
}

// cachedDeb returns a .deb of pkg already in dir (any version), or "".
func cachedDeb(dir, pkg string) string {
	m, _ := filepath.Glob(filepath.Join(dir, pkg+"_*.deb"))
	if len(m) == 0 {
		return ""
	}
	return m[len(m)-1]
}

// aptDownload runs apt-get download pkg into dir, through a private
// temporary directory so that an interrupted download never looks cached.
func aptDownload(ctx context.Context, dir, pkg string) (string, error) {
	tmp, err := os.MkdirTemp(dir, ".apt-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if _, err := run(ctx, tmp, "apt-get", "download", pkg); err != nil {
		return "", fmt.Errorf("%w (apt-get update may help; or give the .deb with -kernel-deb/-busybox-deb)", err)
	}
	m, _ := filepath.Glob(filepath.Join(tmp, pkg+"_*.deb"))
	if len(m) != 1 {
		return "", fmt.Errorf("apt-get download %s left %d .deb files", pkg, len(m))
	}
	dst := filepath.Join(dir, filepath.Base(m[0]))
	return dst, os.Rename(m[0], dst)
}

// aptKnows reports whether apt has a candidate for pkg.
func aptKnows(ctx context.Context, pkg string) bool {
	out, err := run(ctx, "", "apt-cache", "policy", pkg)
	return err == nil && bytes.Contains(out, []byte("Candidate:")) && !bytes.Contains(out, []byte("Candidate: (none)"))
}

// currentKernelPackage returns the linux-image-<abi>-amd64 package that the
// meta package linux-image-amd64 depends on today.
func currentKernelPackage(ctx context.Context) (string, error) {
	out, err := run(ctx, "", "apt-cache", "depends", "linux-image-amd64")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "Depends:" && strings.HasPrefix(f[1], "linux-image-") {
			return f[1], nil
		}
	}
	return "", fmt.Errorf("apt-cache depends linux-image-amd64: no linux-image dependency (apt-get update?)")
}

// fetchURL downloads url into dir (once) and returns the file's path.
func fetchURL(ctx context.Context, dir, url string) (string, error) {
	dst := filepath.Join(dir, filepath.Base(url))
	if st, err := os.Stat(dst); err == nil && st.Size() > 0 {
		return dst, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.CreateTemp(dir, ".dl-")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return "", fmt.Errorf("GET %s: %w", url, err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return dst, os.Rename(f.Name(), dst)
}

// resolveDeb returns the path of a .deb: src itself (a path), a download of
// src (a URL), or pkg from the cache or apt-get download.
func resolveDeb(ctx context.Context, dir, pkg, src string) (string, error) {
	switch {
	case strings.HasPrefix(src, "http://"), strings.HasPrefix(src, "https://"):
		return fetchURL(ctx, dir, src)
	case src != "":
		p, err := filepath.Abs(src)
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(p); err != nil {
			return "", err
		}
		return p, nil
	}
	if p := cachedDeb(dir, pkg); p != "" {
		return p, nil
	}
	return aptDownload(ctx, dir, pkg)
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
