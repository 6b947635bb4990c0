// Command mkimage writes orca's container image as an OCI archive from a static orca binary,
// without a container engine (`make image` runs it):
//
//	CGO_ENABLED=0 GOOS=linux go build -o bin/orca-linux-amd64 ./cmd/orca
//	go run ./deploy/mkimage --binary bin/orca-linux-amd64 --version 1.2.3 --out bin/orca-image.tar
//
// Load the archive with `skopeo copy oci-archive:bin/orca-image.tar docker://REGISTRY/orca:TAG`,
// `podman load -i bin/orca-image.tar` or `crane push`. It prints the image's digest on stdout.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"

	"github.com/orcahq/orca/internal/image"
)

func main() {
	var opt image.Options
	var out string
	flag.StringVar(&opt.Binary, "binary", "", "the static orca binary (CGO_ENABLED=0 GOOS=linux)")
	flag.StringVar(&opt.Version, "version", "dev", "the image's version label and archive name (orca:VERSION)")
	flag.StringVar(&opt.Arch, "arch", runtime.GOARCH, "the binary's architecture")
	flag.StringVar(&opt.CACerts, "ca-certs", image.CertsPath, "the CA bundle to include")
	flag.StringVar(&out, "out", "bin/orca-image.tar", "the OCI archive to write")
	flag.Parse()
	if opt.Binary == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: mkimage --binary FILE [--version V] [--arch A] [--ca-certs FILE] [--out FILE]")
		os.Exit(2)
	}
	img, err := image.Build(opt)
	if err == nil {
		err = image.WriteArchive(img, opt.Version, out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
	digest, err := img.Digest()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "mkimage: wrote %s (orca:%s, %s)\n", out, opt.Version, opt.Arch)
	fmt.Println(digest)
}
