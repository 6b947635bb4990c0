// Package image assembles orca's container image without a container engine: a minimal base
// (CA certificates, a non-root user, /data and /tmp) and the static orca binary as two layers,
// written as an OCI image layout in a tar archive (an "oci-archive", what `skopeo copy
// oci-archive:…`, `podman load` and `crane push` read). It is the image deploy/Dockerfile
// builds with a Docker engine: the same files, user, entrypoint and ports.
package image

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's fixed shape.
const (
	BinaryPath = "/usr/local/bin/orca"
	CertsPath  = "/etc/ssl/certs/ca-certificates.crt"
	DataDir    = "/data"
	// UID and GID are the non-root user's (distroless's "nonroot" numbers).
	UID, GID = 65532, 65532
	User     = "65532:65532"
)

// DefaultCmd is what the image runs without arguments: a server on all interfaces, keeping its
// state in /data (it needs API keys, ORCA_ADMIN_KEY, to listen beyond loopback).
var DefaultCmd = []string{"server", "--listen", "0.0.0.0:7071", "--data", DataDir}

// Options describe one image.
type Options struct {
	// Binary is the static orca binary (CGO_ENABLED=0) for Arch.
	Binary string
	// CACerts is the CA bundle to include (default: this machine's, /etc/ssl/certs/ca-certificates.crt).
	CACerts string
	// Version labels the image and names it in the archive (orca:VERSION).
	Version string
	// Arch is the binary's GOARCH (linux only).
	Arch string
	// Created is the image's creation time (default: the Unix epoch, so that the same inputs
	// make the same image, digest for digest).
	Created time.Time
}

// Build assembles the image.
func Build(opt Options) (v1.Image, error) {
	if opt.Binary == "" || opt.Arch == "" || opt.Version == "" {
		return nil, errors.New("image: Binary, Arch and Version are required")
	}
	if opt.CACerts == "" {
		opt.CACerts = CertsPath
	}
	if err := checkStatic(opt.Binary, opt.Arch); err != nil {
		return nil, err
	}
	bin, err := os.ReadFile(opt.Binary)
	if err != nil {
		return nil, fmt.Errorf("image: the orca binary: %w", err)
	}
	certs, err := os.ReadFile(opt.CACerts)
	if err != nil {
		return nil, fmt.Errorf("image: CA certificates (install Debian's ca-certificates, or pass their file): %w", err)
	}
	base, err := layer([]file{
		{name: "etc/", mode: fs.ModeDir | 0o755},
		{name: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\norca:x:65532:65532:orca:/data:/sbin/nologin\n")},
		{name: "etc/group", mode: 0o644, data: []byte("root:x:0:\norca:x:65532:\n")},
		{name: "etc/ssl/", mode: fs.ModeDir | 0o755},
		{name: "etc/ssl/certs/", mode: fs.ModeDir | 0o755},
		{name: CertsPath[1:], mode: 0o644, data: certs},
		{name: "data/", mode: fs.ModeDir | 0o755, uid: UID, gid: GID},
		{name: "tmp/", mode: fs.ModeDir | fs.ModeSticky | 0o777},
	}, opt.Created)
	if err != nil {
		return nil, err
	}
	app, err := layer([]file{
		{name: "usr/", mode: fs.ModeDir | 0o755},
		{name: "usr/local/", mode: fs.ModeDir | 0o755},
		{name: "usr/local/bin/", mode: fs.ModeDir | 0o755},
		{name: BinaryPath[1:], mode: 0o755, data: bin},
	}, opt.Created)
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, History: v1.History{CreatedBy: "orca image: CA certificates, user orca (65532), /data, /tmp", Created: v1.Time{Time: opt.Created}}},
		mutate.Addendum{Layer: app, History: v1.History{CreatedBy: "orca image: " + BinaryPath, Created: v1.Time{Time: opt.Created}}})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created = "linux", opt.Arch, v1.Time{Time: opt.Created}
	cf.Config = v1.Config{
		Entrypoint:   []string{BinaryPath},
		Cmd:          DefaultCmd,
		User:         User,
		WorkingDir:   DataDir,
		Env:          []string{"PATH=/usr/local/bin", "SSL_CERT_FILE=" + CertsPath},
		ExposedPorts: map[string]struct{}{"7071/tcp": {}, "9090/tcp": {}},
		Volumes:      map[string]struct{}{DataDir: {}},
		Labels: map[string]string{
			"org.opencontainers.image.title":       "orca",
			"org.opencontainers.image.description": "orca: orchestrated compute engine (server, worker, CLI)",
			"org.opencontainers.image.version":     opt.Version,
			"org.opencontainers.image.source":      "https://github.com/orcahq/orca",
		},
	}
	return mutate.ConfigFile(img, cf)
}

// WriteArchive writes img as an OCI image layout in a tar archive at path, named orca:version.
func WriteArchive(img v1.Image, version, path string) error {
	dir, err := os.MkdirTemp("", "orca-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": "orca:" + version,
	})); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := tarDir(f, dir); err != nil {
		_ = f.Close()
		_ = os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// file is one entry of a layer.
type file struct {
	name     string
	mode     fs.FileMode
	uid, gid int
	data     []byte
}

// layer makes a gzip-compressed OCI layer of files, owned by root unless they say otherwise.
func layer(files []file, mtime time.Time) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: int64(f.mode.Perm()), Uid: f.uid, Gid: f.gid, ModTime: mtime, Format: tar.FormatPAX}
		if f.mode&fs.ModeSticky != 0 {
			h.Mode |= 0o1000
		}
		if f.mode.IsDir() {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	content := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(content)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// tarDir writes the files under dir to w, in name order, with fixed times and owners, so that
// the same layout makes the same archive.
func tarDir(w io.Writer, dir string) error {
	var names []string
	if err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		names = append(names, path)
		return nil
	}); err != nil {
		return err
	}
	sort.Strings(names)
	tw := tar.NewWriter(w)
	for _, path := range names {
		fi, err := os.Stat(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		h := &tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		if fi.IsDir() {
			h.Name, h.Typeflag, h.Mode = h.Name+"/", tar.TypeDir, 0o755
		} else {
			h.Typeflag, h.Size = tar.TypeReg, fi.Size()
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if !fi.IsDir() {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			_ = f.Close()
			if err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

// elfMachines are the ELF machines of the architectures an image may have.
var elfMachines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// checkStatic refuses a binary the image cannot run: not a Linux executable for arch, or linked
// against a C library the image does not have.
func checkStatic(path, arch string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("image: %s is not a Linux executable: %w", path, err)
	}
	defer f.Close()
	if want, ok := elfMachines[arch]; !ok {
		return fmt.Errorf("image: architecture %q: use amd64 or arm64", arch)
	} else if f.Machine != want {
		return fmt.Errorf("image: %s is built for %s, not %s", path, f.Machine, arch)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("image: %s is dynamically linked; the image has no C library: build it with CGO_ENABLED=0", path)
		}
	}
	return nil
}
