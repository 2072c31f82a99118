package kafka

// Lag is how many offsets of a partition a consumer has yet to read: from
// its position next up to end. next is the next offset it will read (a
// committed offset, or the offset after the last record it fetched),
// negative when it has none (stocklake's consumers then start at the log
// start). end is the high watermark, or the last stable offset for a
// read_committed consumer. start is the log start offset, 0 when not known:
// a position before it counts from it, as records removed by retention are
// not there to read. Transaction markers count as records. Never negative.
//
// It is the one definition of consumer lag: the sink's
// stocklake_sink_lag_records and exit-when-idle, the analyzer's caught-up
// check of idle partitions and the dashboard's health page all use it.
func Lag(start, next, end int64) int64 {
	return max(0, end-max(next, start, 0))
}
