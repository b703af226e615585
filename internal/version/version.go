package version

// Version is midge's release.
const Version = "0.1.0"
