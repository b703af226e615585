#!/usr/bin/env bash
# Cross-builds static midge binaries (CGO_ENABLED=0) into dist/:
#   midge-VERSION-linux-amd64, -linux-arm64, -linux-armv7 (Raspberry Pi OS
#   32-bit), -darwin-amd64, -darwin-arm64, -windows-amd64.exe,
# the Debian packages midge_DEBVERSION_{amd64,arm64,armhf}.deb and
# midge-mosquitto-compat_DEBVERSION_all.deb (packaging/mkdeb, with nFPM),
# and a SHA256SUMS file. VERSION defaults to the git description.
set -euo pipefail
cd "$(dirname "$0")/.."

version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
out=dist
rm -rf "$out"
mkdir -p "$out"

targets=(
	"linux amd64"
	"linux arm64"
	"linux arm 7"
	"darwin amd64"
	"darwin arm64"
	"windows amd64"
)
for t in "${targets[@]}"; do
	read -r goos goarch goarm <<<"$t"
	name="midge-$version-$goos-$goarch"
	[ -n "${goarm:-}" ] && name="midge-$version-$goos-armv$goarm"
	[ "$goos" = windows ] && name="$name.exe"
	echo "== $name"
	CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch GOARM=${goarm:-} \
		go build -trimpath -ldflags "-s -w" -o "$out/$name" ./cmd/midge
done
echo "== Debian packages"
go run -C packaging ./mkdeb -version "$version" -out "../$out" \
	-binary "amd64=../$out/midge-$version-linux-amd64" \
	-binary "arm64=../$out/midge-$version-linux-arm64" \
	-binary "arm7=../$out/midge-$version-linux-armv7"
(cd "$out" && sha256sum midge-* midge_* >SHA256SUMS)
echo "== dist/"
ls -l "$out"
