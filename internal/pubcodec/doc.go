// Package pubcodec holds the broker's PUBLISH codec helpers beyond the
// packet package: decoding a large PUBLISH without copying its payload
// (Decode), the properties a PUBLISH passes on to subscribers (Forwarded),
// and growing an encoded packet's Remaining Length in place (AddRemaining).
package pubcodec
