package main

import (
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	"github.com/goreleaser/nfpm/v2/files"
)

// assets are the files the packages install or run, besides the binary.
//
//go:embed files
var assets embed.FS

// Package metadata shared by both packages.
const (
	homepage   = "https://github.com/midge-mqtt/midge"
	maintainer = "midge developers <midge-mqtt@users.noreply.github.com>"
)

// mosquittoNames are the paths Debian's mosquitto and mosquitto-clients
// packages install their commands at; the compat package links them to midge.
var mosquittoNames = []string{
	"/usr/sbin/mosquitto",
	"/usr/bin/mosquitto_pub",
	"/usr/bin/mosquitto_sub",
	"/usr/bin/mosquitto_rr",
	"/usr/bin/mosquitto_passwd",
}

// binaryFlag collects -binary ARCH=PATH.
type binaryFlag map[string]string

func (b binaryFlag) String() string { return fmt.Sprint(map[string]string(b)) }

func (b binaryFlag) Set(s string) error {
	arch, path, ok := strings.Cut(s, "=")
	if !ok || arch == "" || path == "" {
		return fmt.Errorf("want ARCH=PATH, got %q", s)
	}
	if _, ok := debArch[arch]; !ok {
		return fmt.Errorf("architecture %q: want amd64, arm64 or arm7", arch)
	}
	b[arch] = path
	return nil
}

// debArch maps Go's architecture names (GOARCH, and arm7 for GOARCH=arm
// GOARM=7) to Debian's.
var debArch = map[string]string{"amd64": "amd64", "arm64": "arm64", "arm7": "armhf"}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mkdeb:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("mkdeb", flag.ContinueOnError)
	version := fs.String("version", "", "the version, as git describe gives it (v1.2.3, v1.2.3-4-gabcdef, abcdef-dirty)")
	out := fs.String("out", "dist", "directory to write the packages to")
	bins := binaryFlag{}
	fs.Var(bins, "binary", "ARCH=PATH: a static midge binary for ARCH (amd64, arm64, arm7); repeat for each")
	compat := fs.Bool("compat", true, "also build midge-mosquitto-compat (architecture all)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *version == "" || len(bins) == 0 {
		return errors.New("-version and at least one -binary are required")
	}
	v := debVersion(*version)
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for _, arch := range []string{"amd64", "arm64", "arm7"} {
		bin, ok := bins[arch]
		if !ok {
			continue
		}
		path, err := build(mainPackage(v, debArch[arch], bin), *out)
		if err != nil {
			return fmt.Errorf("midge %s: %w", arch, err)
		}
		fmt.Fprintln(stdout, path)
	}
	if *compat {
		path, err := build(compatPackage(v), *out)
		if err != nil {
			return fmt.Errorf("midge-mosquitto-compat: %w", err)
		}
		fmt.Fprintln(stdout, path)
	}
	return nil
}

// debVersion turns a git description into a Debian version, which must
// start with a digit and sort in release order: v1.2.3 is 1.2.3, v1.2.3-4-gabc
// (4 commits later) 1.2.3+4.gabc, and an untagged abc-dirty 0~git.abc.dirty.
func debVersion(desc string) string {
	v := strings.TrimPrefix(desc, "v")
	if releaseVersion.MatchString(v) {
		head, rest, ok := strings.Cut(v, "-")
		if !ok {
			return v
		}
		return head + "+" + strings.ReplaceAll(rest, "-", ".")
	}
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '+', r == '~':
			return r
		}
		return '.'
	}, v)
	return "0~git." + clean
}

// releaseVersion matches what starts with a release number (1.2, 1.2.3):
// a bare commit hash may start with digits too.
var releaseVersion = regexp.MustCompile(`^[0-9]+\.[0-9]+`)

// packageInfo describes a package of midge's with what they all share:
// the maintainer, the home page, the section and so on.
func packageInfo(name, arch, version, description string) *nfpm.Info {
	return &nfpm.Info{
		Name:          name,
		Arch:          arch,
		Platform:      "linux",
		Version:       version,
		VersionSchema: "none",
		Section:       "net",
		Priority:      "optional",
		Maintainer:    maintainer,
		Homepage:      homepage,
		Description:   description,
	}
}

// mainPackage describes the midge package for one architecture.
func mainPackage(version, arch, binary string) *nfpm.Info {
	info := packageInfo("midge", arch, version,
		"MQTT broker and client tools, a drop-in for Mosquitto\n"+
			"midge is an MQTT 3.1, 3.1.1 and 5.0 broker in one static binary. It reads\n"+
			"mosquitto.conf, password and ACL files unchanged, and with persistence on\n"+
			"acknowledges QoS 1 and 2 messages only once they are on disk. midge pub,\n"+
			"sub, rr and passwd are Mosquitto's client tools. The service runs as the\n"+
			"midge user with /etc/midge/midge.conf; the Mosquitto command names come\n"+
			"with the midge-mosquitto-compat package.")
	info.Overridables = nfpm.Overridables{
		Contents: files.Contents{
			{Source: binary, Destination: "/usr/bin/midge", FileInfo: &files.ContentFileInfo{Mode: 0o755}},
			{Source: "files/midge.service", Destination: "/lib/systemd/system/midge.service", FileInfo: &files.ContentFileInfo{Mode: 0o644}},
			{Source: "files/midge.conf", Destination: "/etc/midge/midge.conf", Type: files.TypeConfigNoReplace, FileInfo: &files.ContentFileInfo{Mode: 0o644}},
			{Destination: "/etc/midge/conf.d", Type: files.TypeDir, FileInfo: &files.ContentFileInfo{Mode: 0o755}},
		},
		Scripts: nfpm.Scripts{
			PostInstall: "files/postinst",
			PreRemove:   "files/prerm",
			PostRemove:  "files/postrm",
		},
	}
	return info
}

// compatPackage describes midge-mosquitto-compat: Mosquitto's command names
// as links to midge, in place of Debian's mosquitto and mosquitto-clients.
func compatPackage(version string) *nfpm.Info {
	info := packageInfo("midge-mosquitto-compat", "all", version,
		"Mosquitto's command names for midge\n"+
			"Links mosquitto, mosquitto_pub, mosquitto_sub, mosquitto_rr and\n"+
			"mosquitto_passwd to midge, which behaves as each of them under its name,\n"+
			"so scripts and tutorials written for Mosquitto run unchanged. It takes\n"+
			"the place of Debian's mosquitto and mosquitto-clients packages.")
	info.Overridables = nfpm.Overridables{
		Depends:   []string{"midge (= " + version + ")"},
		Conflicts: []string{"mosquitto", "mosquitto-clients"},
		Replaces:  []string{"mosquitto", "mosquitto-clients"},
	}
	for _, name := range mosquittoNames {
		info.Contents = append(info.Contents, &files.Content{Source: "/usr/bin/midge", Destination: name, Type: files.TypeSymlink})
	}
	return info
}

// build writes the package info describes into dir and returns its path.
// Sources under files/ come from the embedded assets.
func build(info *nfpm.Info, dir string) (string, error) {
	tmp, err := os.MkdirTemp("", "mkdeb")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	local := func(p string) (string, error) {
		if !strings.HasPrefix(p, "files/") {
			return p, nil
		}
		data, err := assets.ReadFile(p)
		if err != nil {
			return "", err
		}
		dst := filepath.Join(tmp, filepath.Base(p))
		return dst, os.WriteFile(dst, data, 0o644)
	}
	for _, c := range info.Contents {
		if c.Type == files.TypeSymlink || c.Source == "" {
			continue
		}
		if c.Source, err = local(c.Source); err != nil {
			return "", err
		}
	}
	for _, s := range []*string{&info.Scripts.PostInstall, &info.Scripts.PreRemove, &info.Scripts.PostRemove} {
		if *s == "" {
			continue
		}
		if *s, err = local(*s); err != nil {
			return "", err
		}
	}
	info = nfpm.WithDefaults(info)
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return "", err
	}
	pkg, err := nfpm.Get("deb")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, pkg.ConventionalFileName(info))
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if err := pkg.Package(info, f); err != nil {
		f.Close()
		os.Remove(path)
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return path, nil
}
