package load

import (
	"errors"
	"time"
)

// The errors a caller tells apart, with errors.Is.
var (
	// ErrStoreAccess is wrapped by errors that mean the output or input location
	// is misconfigured (bucket missing, permission denied, not a directory):
	// retrying will not help (exit 2). The message names the bucket or path and
	// the permission needed.
	ErrStoreAccess = errors.New("store not accessible")

	// ErrSlotTaken is wrapped by the error of a run whose slot another run of
	// the same slot took over after it began: this run publishes nothing. The
	// message names the other run.
	ErrSlotTaken = errors.New("another run took over the slot")

	// ErrShardCountChanged is wrapped by Begin's error when the logical time
	// already has output (table files or a manifest) written with
	// another shard count: the two would double every row. It is a
	// configuration error; the message says how to retire the old output.
	ErrShardCountChanged = errors.New("shard count differs from the output already written for this logical time")

	// ErrCorruptLedger is wrapped by errors about a ledger object that cannot
	// be decoded. Deleting the object named in the message is safe: it only
	// forgets the completions it recorded, so those sessions are fetched again.
	ErrCorruptLedger = errors.New("corrupt ledger object")
)

// Slot identifies what a run replaces: one logical time and one shard.
type Slot struct {
	LogicalTime time.Time // UTC; dt = its date
	ShardIndex  int
	ShardCount  int // >= 1
}

// FileInfo describes a published Parquet file.
type FileInfo struct {
	Path   string `json:"path"` // full URL or path as a reader would use it
	Rows   int64  `json:"rows"`
	Bytes  int64  `json:"bytes"`
	CRC32C uint32 `json:"crc32c"`
}
