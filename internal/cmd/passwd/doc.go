// Package passwd is the passwd command: "midge passwd", or midge run as
// "mosquitto_passwd". It creates and updates the password files the broker
// reads (package auth hashes the passwords), with mosquitto_passwd's
// arguments, messages and exit statuses; passwd.go says where, on purpose,
// it differs. "midge passwd" with no arguments prints the options.
//
// Files: passwd.go (the command), owner_unix.go and owner_other.go (a
// file's owner, kept when the file is rewritten).
package passwd
