package store

// MoveAsideAt is MoveAside at a given time.
var MoveAsideAt = moveAside
