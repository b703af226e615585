// Command mkdeb builds midge's Debian packages with nFPM: midge for amd64,
// arm64 and armhf (the binary, a systemd unit, /etc/midge/midge.conf, and
// maintainer scripts that create the midge system user and /var/lib/midge)
// and midge-mosquitto-compat (Mosquitto's command names as links to midge).
// scripts/release.sh runs it:
//
//	go run -C packaging ./mkdeb -version v1.2.3 -out ../dist \
//		-binary amd64=../dist/midge-v1.2.3-linux-amd64 -binary arm64=... -binary arm7=...
//
// It lives in a module of its own so that the packaging library's
// dependencies stay out of midge's.
package main
