package auth

// MatchFilterForTest exposes the topic matcher to the external tests.
var MatchFilterForTest = matchFilter
