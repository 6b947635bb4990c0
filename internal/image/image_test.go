package image_test

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/orcahq/orca/internal/image"
	"github.com/orcahq/orca/internal/testenv"
)

// staticOrca builds orca as `make image` does: static, for this machine's architecture.
func staticOrca(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "orca-static")
	build := exec.Command("go", "build", "-o", bin, "github.com/orcahq/orca/cmd/orca")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build a static orca: %v\n%s", err, out)
	}
	return bin
}

func goarch(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOARCH").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// TestImageArchive builds the image from a static orca, writes the archive, and reads it back
// as a registry tool would: an OCI layout whose index names orca:VERSION, an OCI manifest
// whose config and layer digests match their blobs (go-containerregistry's validate reads and
// hashes every blob), the entrypoint, user and ports it should have, a base layer with the CA
// bundle and the non-root user, and a binary that runs `orca version`. The same inputs make
// the same digest.
func TestImageArchive(t *testing.T) {
	if _, err := os.Stat(image.CertsPath); err != nil {
		testenv.Missing(t, fmt.Sprintf("no CA bundle on this machine (%v): Debian's ca-certificates provides it", err))
	}
	dir := t.TempDir()
	arch := goarch(t)
	opt := image.Options{Binary: staticOrca(t, dir), Version: "9.9.9-test", Arch: arch}
	img, err := image.Build(opt)
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "orca-image.tar")
	if err := image.WriteArchive(img, opt.Version, archive); err != nil {
		t.Fatal(err)
	}

	unpacked := filepath.Join(dir, "layout")
	untar(t, archive, unpacked)
	idx, err := layout.ImageIndexFromPath(unpacked)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].MediaType != types.OCIManifestSchema1 ||
		im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "orca:9.9.9-test" {
		t.Fatalf("index %+v", im)
	}
	got, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Fatalf("the archived image does not validate: %v", err)
	}
	cf, err := got.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if cf.OS != "linux" || cf.Architecture != arch || !slices.Equal(c.Entrypoint, []string{"/usr/local/bin/orca"}) ||
		!slices.Equal(c.Cmd, image.DefaultCmd) || c.User != "65532:65532" || c.WorkingDir != "/data" {
		t.Fatalf("config %+v %+v", cf, c)
	}
	if _, ok := c.ExposedPorts["7071/tcp"]; !ok {
		t.Fatalf("ports %v", c.ExposedPorts)
	}
	if mt, _ := got.MediaType(); mt != types.OCIManifestSchema1 {
		t.Fatalf("manifest media type %s", mt)
	}

	layers, err := got.Layers()
	if err != nil || len(layers) != 2 {
		t.Fatalf("%d layers (%v), want the base and the binary", len(layers), err)
	}
	base := entries(t, layers[0])
	if h := base["etc/ssl/certs/ca-certificates.crt"]; h == nil || h.Size == 0 {
		t.Fatal("no CA bundle in the base layer")
	}
	if h := base["data/"]; h == nil || h.Uid != image.UID || h.Gid != image.GID {
		t.Fatalf("/data %+v, want owned by %d", h, image.UID)
	}
	if h := base["tmp/"]; h == nil || h.Mode&0o1777 != 0o1777 {
		t.Fatalf("/tmp %+v, want mode 1777", h)
	}
	app := entries(t, layers[1])
	h := app["usr/local/bin/orca"]
	if h == nil || h.Mode&0o755 != 0o755 {
		t.Fatalf("binary entry %+v", h)
	}
	root := filepath.Join(dir, "rootfs")
	for _, l := range layers {
		unpackLayer(t, l, root)
	}
	out, err := exec.Command(filepath.Join(root, "usr/local/bin/orca"), "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "orca ") {
		t.Fatalf("orca version from the image: %q (%v)", out, err)
	}
	// As the image runs it: in its own root, as its user, with nothing else around it.
	if chroot, err := exec.LookPath("chroot"); err == nil && os.Geteuid() == 0 {
		out, err := exec.Command(chroot, "--userspec=65532:65532", root, "/usr/local/bin/orca", "version").CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), "orca ") {
			t.Fatalf("orca version in the image's root as its user: %q (%v)", out, err)
		}
	} else {
		t.Log("not root or no chroot: the binary ran outside the image's root only")
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc/passwd")); !strings.Contains(string(b), "orca:x:65532:65532:") {
		t.Fatalf("/etc/passwd %q has no orca user", b)
	}

	again, err := image.Build(opt)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := img.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Fatalf("the same inputs made two digests: %s and %s", d1, d2)
	}
}

// TestImageRefusesABinaryItCannotRun: a dynamically linked binary (no C library in the image)
// or one of another architecture is refused with what to do.
func TestImageRefusesABinaryItCannotRun(t *testing.T) {
	self, err := os.Executable() // a test binary: linked dynamically when cgo is on
	if err != nil {
		t.Fatal(err)
	}
	notELF := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		opt  image.Options
		says string
	}{
		{image.Options{Binary: notELF, Version: "x", Arch: "amd64"}, "not a Linux executable"},
		{image.Options{Binary: self, Version: "x", Arch: "s390x"}, "use amd64 or arm64"},
		{image.Options{Binary: self, Version: "x", Arch: map[string]string{"amd64": "arm64", "arm64": "amd64"}[goarch(t)]}, "is built for"},
		{image.Options{Version: "x", Arch: "amd64"}, "required"},
	} {
		if _, err := image.Build(c.opt); err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%+v: %v, want an error saying %q", c.opt, err, c.says)
		}
	}
	if out, _ := exec.Command("file", self).Output(); strings.Contains(string(out), "dynamically linked") {
		if _, err := image.Build(image.Options{Binary: self, Version: "x", Arch: goarch(t)}); err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
			t.Errorf("dynamically linked binary: %v", err)
		}
	}
}

func untar(t *testing.T, archive, dir string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	unpack(t, f, dir)
}

// entries lists a layer's tar headers by name.
func entries(t *testing.T, l v1.Layer) map[string]*tar.Header {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	m := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return m
		}
		if err != nil {
			t.Fatal(err)
		}
		m[h.Name] = h
	}
}

// unpackLayer writes a layer's files under root.
func unpackLayer(t *testing.T, l v1.Layer, root string) {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	unpack(t, rc, root)
}

// unpack writes a tar stream's directories and files under root, with their modes.
func unpack(t *testing.T, r io.Reader, root string) {
	t.Helper()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(root, h.Name)
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(path, os.FileMode(h.Mode).Perm()|0o700); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode).Perm()|0o600)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, tr); err != nil {
			t.Fatal(err)
		}
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
