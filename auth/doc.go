// Package auth reads Mosquitto's password files and ACL files and answers the
// questions the broker asks of them: may this user connect with this password,
// and may this client read or write this topic.
//
// # Password files
//
// A password file has one "username:hash" line per user, as mosquitto_passwd
// (or "midge passwd") writes it. Every hash format Mosquitto writes is read:
//
//	$6$SALT$HASH            SHA512: SHA-512(password || salt), Mosquitto 1.x
//	$7$ITER$SALT$HASH       SHA512PBKDF2: PBKDF2-HMAC-SHA512, Mosquitto 2.0 and 2.1
//	$argon2id$v=19$m=..     Argon2id PHC string, Mosquitto 2.1 built with argon2
//
// SALT and HASH of the first two are standard base64 with padding; the salt is
// 12 bytes (Mosquitto 2.0) or 64 bytes (Mosquitto 2.1) and the hash 64 bytes.
// Lines are read the way Mosquitto 2.0's broker reads them: a line whose
// first byte is '#' is a comment, a line without ':' is ignored, and blanks
// around the username and the hash do not count. Where Mosquitto logs a
// message and leaves the entry out (no hash, a hash it cannot decode, a
// username or hash over 65,535 bytes), midge leaves it out too and
// PasswordFile.Skipped returns Mosquitto's message, for the broker to log;
// of a user's valid lines the last counts. Only a file that cannot be read
// is an error.
//
// # ACL files
//
// An ACL file is evaluated exactly as Mosquitto 2.0's default ACL check
// (src/security_default.c) evaluates it; see ACL for the rules.
//
// # The broker
//
// *PasswordFile implements broker.Authenticator, and *ACL (and
// SubscribeChecker, for acl_check_subscribe) implement broker.Authorizer and
// broker.Explainer: they are links of a broker.Security chain, as
// Mosquitto's password-file and acl-file plugins are links of its plugin
// chain. A password file defers for clients without a user name (so that
// allow_anonymous decides) and allows or denies the others; an ACL file
// allows or denies, and defers only when it has no rules. Put a file in a
// broker.Slot to replace it while the broker runs (SIGHUP); see the
// example.
//
// # Concurrency
//
// A *PasswordFile and an *ACL are immutable once loaded and safe for
// concurrent use. To reload (SIGHUP), load a new value and store it in the
// broker.Slot that holds the old one.
package auth
