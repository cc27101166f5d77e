package core

// Paging shared by the operators' lists (failed pairings, refunds).
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// NormalizePage checks a page request and fills its defaults: page starts at 1 (0 means
// 1), size defaults to DefaultPageSize and is at most MaxPageSize. Errors are
// *ValidationError on "page" or "page_size".
func NormalizePage(page, size int) (int, int, error) {
	switch {
	case page < 0:
		return page, size, Invalid("page", "must be at least 1, not %d", page)
	case page == 0:
		page = 1
	}
	switch {
	case size < 0 || size > MaxPageSize:
		return page, size, Invalid("page_size", "must be between 1 and %d, not %d", MaxPageSize, size)
	case size == 0:
		size = DefaultPageSize
	}
	return page, size, nil
}
