package auth

import "crypto/sha256"

// Fingerprint returns a digest of username's entry in the file, and whether
// the user is in it. It changes when the user's password does (a new hash
// has a new salt) and stays the same when the file is read again unchanged,
// so that a login made with one entry can be ended once the entry changes
// or goes. It tells nothing about the password or its hash.
func (pf *PasswordFile) Fingerprint(username string) (fp [32]byte, ok bool) {
	h, ok := pf.users[username]
	if !ok {
		return fp, false
	}
	return sha256.Sum256([]byte("midge password entry\x00" + username + "\x00" + h.encode())), true
}
