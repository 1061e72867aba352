package extract

// Hooks for the external tests of the listing, which need the simulator
// (and the simulator imports this package).
var (
	DecodeListPage = decodeListPage
	ListURL        = listURL
)
